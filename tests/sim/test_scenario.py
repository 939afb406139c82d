"""Scenario validation at the edge: every problem names the file and the field."""

from pathlib import Path

import pytest

from testbed.errors import BundleError, ConfigError
from testbed.scenario import load_scenario
from testbed.sim.engine import simulate

from .builders import scenario_dict

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
# Hardware-in-the-loop validation (testbed validate): fixed policies, sized in this host's
# measured latencies rather than MACs at a platform's peak (see the file's header).
VALIDATION = {"host_validation"}
SYSTEM_METHODS = {"steppingnet": "steppingnet", "anywidth": "anywidth",
                  "slimmable": "slimmable", "static": "static"}


@pytest.fixture
def systems(toy_bundles):
    return [{"name": "sn", "model": str(toy_bundles["steppingnet"]), "policy": "deadline_aware"},
            {"name": "slim", "model": str(toy_bundles["slimmable"]), "policy": "pick_at_start"}]


@pytest.fixture
def load(write_scenario, systems):
    def load(overrides=None, **top):
        return load_scenario(write_scenario(scenario_dict(systems, **top)), overrides=overrides)
    return load


def test_a_valid_scenario_is_typed_and_frozen(load, toy_bundles):
    sc = load()
    assert sc.name == "toy" and sc.seed == 3 and sc.duration_s == 5.0
    assert [s.name for s in sc.systems] == ["sn", "slim"]
    assert sc.systems[0].bundle.manifest.method == "steppingnet"
    assert sc.horizon_s == pytest.approx(5.06)
    with pytest.raises(AttributeError):
        sc.seed = 4


def test_overrides_edit_the_yaml_before_validation(load):
    sc = load({"workload.0.deadline_ms": 20, "platform.peak_gmacs": 0.3,
               "systems.0.policy": {"name": "greedy"}})
    assert sc.workload[0].deadline_ms == 20 and sc.platform.peak_gmacs == 0.3
    assert type(sc.systems[0].policy).__name__ == "Greedy"


@pytest.mark.parametrize("path", ["platform.peak_gmac", "workload.3.deadline_ms",
                                  "systems.0.policy.margin", "seed.x"])
def test_override_of_a_missing_path_is_named(load, path):
    with pytest.raises(ConfigError, match=rf"scenario.yaml: {path.replace('.', '[.]')}: expected"):
        load({path: 1})


def test_seed_duration_and_trace_arguments(write_scenario, systems, tmp_path):
    (tmp_path / "t.csv").write_text("time_s,budget\n0,0.5\n")
    path = write_scenario(scenario_dict(systems))
    sc = load_scenario(path, seed=9, duration_s=2.5, trace_path=str(tmp_path / "t.csv"))
    assert sc.seed == 9 and sc.duration_s == 2.5
    assert sc.budget.trace.value.tolist() == [0.5] and sc.budget.trace.after == "hold"  # --trace holds unless told


@pytest.mark.parametrize("top, where", [
    ({"colour": "red"}, "colour"),
    ({"duration_s": "long"}, "duration_s"),
    ({"duration_s": -1}, "duration_s"),
    ({"seed": 1.5}, "seed"),
    ({"cost_model": "flops"}, "cost_model"),
    ({"platform": {"peak_gmacs": 0}}, "platform.peak_gmacs"),
    ({"platform": {"stage_overhead_ms": 1}}, "platform.peak_gmacs"),
    ({"budget": {"kind": "trace", "file": "missing.csv"}}, "budget.file"),
    ({"workload": []}, "workload"),
    ({"workload": [{"name": "a", "kind": "periodic", "period_ms": 10, "deadline_ms": -5}]},
     "workload.0.deadline_ms"),
    ({"workload": [{"name": "a", "kind": "periodic", "period_ms": 10, "deadline_ms": 5,
                    "overrun": "panic"}]}, "workload.0.overrun"),
    ({"workload": [{"name": "a", "kind": "bursty", "deadline_ms": 5}]}, "workload.0.kind"),
    ({"workload": [{"name": "a", "kind": "periodic", "period_ms": 10, "deadline_ms": 5},
                   {"name": "a", "kind": "sporadic", "rate_hz": 1, "deadline_ms": 5}]},
     "workload.1.name"),
    ({"systems": []}, "systems"),
])
def test_bad_scenario_names_the_field(load, top, where):
    with pytest.raises(ConfigError) as err:
        load(**top)
    assert f"scenario.yaml: {where}: expected" in str(err.value)


@pytest.mark.parametrize("system, where", [
    ({"name": "x", "model": "nowhere", "policy": "greedy"}, "systems.2.model"),
    ({"name": "x", "model": "{slimmable}", "policy": "greedy"}, "systems.2.policy.name"),
    ({"name": "x", "model": "{slimmable}", "policy": "deadline_aware"}, "systems.2.policy.name"),
    ({"name": "x", "model": "{steppingnet}", "policy": "pick_at_start"}, "systems.2.policy.name"),
    ({"name": "x", "model": "{steppingnet}", "policy": {"name": "fixed", "k": 9}},
     "systems.2.policy.k"),
    ({"name": "x", "model": "{steppingnet}", "policy": "telepathy"}, "systems.2.policy.name"),
    ({"name": "sn", "model": "{steppingnet}", "policy": "greedy"}, "systems.2.name"),
    ({"name": "x", "model": "{steppingnet}"}, "systems.2.policy"),
    ({"name": "x", "model": "{steppingnet}", "policy": "greedy", "gpu": 1}, "systems.2.gpu"),
])
def test_bad_system_names_the_field(write_scenario, systems, toy_bundles, system, where):
    paths = {k: str(v) for k, v in toy_bundles.items()}
    system = dict(system, model=system["model"].format(**paths))
    with pytest.raises(ConfigError) as err:
        load_scenario(write_scenario(scenario_dict(systems + [system])))
    assert f"scenario.yaml: {where}: expected" in str(err.value)


def test_oracle_needs_a_workload_without_overlapping_jobs(write_scenario, systems, toy_bundles):
    oracle = {"name": "o", "model": str(toy_bundles["steppingnet"]), "policy": "oracle"}
    load_scenario(write_scenario(scenario_dict(systems + [oracle])))  # deadline 60 < period 100
    overlapping = [{"name": "c", "kind": "periodic", "period_ms": 100, "deadline_ms": 150}]
    with pytest.raises(ConfigError, match=r"systems\.2\.policy\.name: expected a workload whose"):
        load_scenario(write_scenario(scenario_dict(systems + [oracle], workload=overlapping)))


def test_profiled_cost_model_needs_a_profile(write_scenario, systems, tmp_path):
    from tests.toybundle import make_toy_bundle
    profiled = make_toy_bundle(tmp_path / "p", profile_ms=[1.0, 2.0, 2.0, 3.5])
    with pytest.raises(ConfigError, match="profile.json: expected a profile of the bundle"):
        load_scenario(write_scenario(scenario_dict(systems, cost_model="profiled")))
    ok = [{"name": "p", "model": str(profiled), "policy": "greedy"}]
    sc = load_scenario(write_scenario(scenario_dict(ok, cost_model="profiled")))
    assert sc.systems[0].profile_ms == (1.0, 2.0, 2.0, 3.5)


def test_corrupted_bundle_is_a_bundle_error_naming_the_field(write_scenario, tmp_path):
    from tests.toybundle import make_toy_bundle
    broken = make_toy_bundle(tmp_path / "b")
    (broken / "eval.npz").write_bytes(b"garbage")
    entry = [{"name": "b", "model": str(broken), "policy": "greedy"}]
    with pytest.raises(BundleError, match=r"systems\.0\.model: .*eval.npz"):
        load_scenario(write_scenario(scenario_dict(entry)))


def test_yaml_syntax_error_names_the_line(tmp_path):
    (tmp_path / "s.yaml").write_text("name: x\nplatform: {peak_gmacs: [\n")
    with pytest.raises(ConfigError, match=r"s.yaml: line \d+: expected valid YAML"):
        load_scenario(tmp_path / "s.yaml")


def test_paths_resolve_relative_to_the_scenario_file(tmp_path, toy_bundles):
    import shutil
    shutil.copytree(toy_bundles["anywidth"], tmp_path / "models" / "aw")
    (tmp_path / "sc").mkdir()
    (tmp_path / "sc" / "t.csv").write_text("time_s,budget\n0,1\n")
    raw = scenario_dict([{"name": "aw", "model": "../models/aw", "policy": "greedy"}],
                        budget={"kind": "trace", "file": "t.csv", "after": "hold"})
    import yaml
    (tmp_path / "sc" / "s.yaml").write_text(yaml.safe_dump(raw))
    sc = load_scenario(tmp_path / "sc" / "s.yaml")
    assert sc.systems[0].model == (tmp_path / "models" / "aw").resolve()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_validate_and_run_with_toy_bundles(path, toy_bundles):
    import yaml
    raw = yaml.safe_load(path.read_text())
    overrides = {f"systems.{i}.model": str(toy_bundles[SYSTEM_METHODS[s["name"]]])
                 for i, s in enumerate(raw["systems"])}
    overrides.update({f"systems.{i}.classes.{c}.model": str(toy_bundles["steppingnet"])
                      for i, s in enumerate(raw["systems"]) for c in s.get("classes", {})})
    if raw.get("cost_model") == "latency":  # toy stage files are not ONNX graphs to count
        overrides["cost_model"] = "macs"
    sc = load_scenario(path, overrides=overrides, duration_s=3.0)
    own = [s for s in sc.systems if s.bound_of is None]
    assert sc.description and len(own) == 4
    if path.stem not in VALIDATION:
        assert all(s.candidates for s in own)  # every system is tuned (issue 16)
    assert {s.bound_of for s in sc.systems if s.bound_of} in (set(), {s.name for s in own})
    result = simulate(sc)
    assert {r.system for r in result.records} == set(result.systems)


SIZED_BY_MACS = [p for p in SCENARIOS if p.stem not in VALIDATION]


@pytest.mark.parametrize("path", SIZED_BY_MACS, ids=[p.stem for p in SIZED_BY_MACS])
def test_shipped_scenarios_show_the_interesting_regime(path):
    """At full budget the largest planned subnet (85% of the original network's MACs, as
    the shipped bundles' manifests give them) fits the camera deadline; at the scenario's
    lowest non-zero budget only the first steps do."""
    import math

    from testbed.sim.engine import make_trace
    from testbed.sim.rt.tasks import TaskSet
    sc = load_scenario(path)
    original = {s.bundle.manifest.original_macs for s in sc.systems}
    assert len(original) == 1  # every system compresses the same network
    macs = original.pop()
    camera = sc.workload[0]
    peak = sc.platform.peak_gmacs * 1e9
    overhead = sc.platform.stage_overhead_ms / 1e3
    full = 0.85 * macs / peak + 4 * overhead
    assert full < camera.deadline_ms / 1e3
    if isinstance(sc.budget, TaskSet):  # no trace: the other tasks' worst case in a deadline
        d = camera.deadline_ms / 1e3
        others = sum(math.ceil(d / t.period_s) * t.execution.wcet_ms / 1e3
                     for t in sc.budget.tasks if t.priority > camera.priority
                     or sc.budget.scheduler == "edf")
        assert full + others > d
        return
    trace = make_trace(sc)
    low = trace.value[trace.value > 0].min()
    assert 0.50 * macs / (peak * low) > camera.deadline_ms / 1e3
