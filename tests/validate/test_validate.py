"""`testbed validate` end to end on toy bundles, in seconds: stages whose "measured" time
is exactly the cost model's, under dilation, must reproduce the simulator job by job."""

import json
from pathlib import Path

import pytest

from testbed import api
from testbed.cli import main
from testbed.sim.platform import step_costs
from testbed.validate import report
from testbed.validate.mechanism import Detection
from testbed.validate.validation import validate
from tests.toybundle import make_toy_bundle

REFUSED = Detection(False, "SCHED_FIFO refused (test)")


def raw_scenario(**top):
    raw = {"name": "tiny", "seed": 4, "duration_s": 4.0,
           "platform": {"peak_gmacs": 0.5, "stage_overhead_ms": 0.1, "monitor_ms": 1.0},
           "budget": {"kind": "trace", "file": "budget.csv", "after": "repeat"},
           "workload": [{"name": "cam", "kind": "periodic", "period_ms": 40, "jitter_ms": 2,
                         "deadline_ms": 12, "overrun": "drop_old"}],
           "cost_model": "macs",
           "systems": [
               {"name": "step", "model": "models/step",
                "policy": {"name": "deadline_aware", "margin": 0.1, "ewma_alpha": 1.0}},
               {"name": "slim", "model": "models/slim",
                "policy": {"name": "pick_at_start", "margin": 0.1, "ewma_alpha": 1.0}}]}
    raw.update(top)
    return raw


# never below 0.35, so a step the deadline cuts (which, for real, runs to its end) is
# over before the next frame arrives: the two sides then differ only in the MACs wasted
BUDGET = "time_s,budget\n0,1.0\n0.3,0.5\n0.55,0.35\n0.7,0.8\n0.85,0.6\n1.1,1.0\n"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "budget.csv").write_text(BUDGET)
    make_toy_bundle(tmp_path / "models" / "step", method="steppingnet")
    make_toy_bundle(tmp_path / "models" / "slim", method="slimmable", seed=1)
    return tmp_path


class ModelTime:
    """Stages that take exactly the cost model's time at full budget, on a fake timer."""

    def __init__(self, scenario):
        self.now = 0.0
        self.work = {}
        for s in scenario.systems:
            costs = step_costs(s.bundle, scenario.platform, scenario.cost_model)
            self.work[id(s.bundle)] = [w / (scenario.platform.peak_gmacs * 1e9)
                                       for w in costs.work_macs]
        self.calls = []

    def steps_for(self, bundle, outcomes):
        outer, work = self, self.work[id(bundle)]

        class Steps:
            def warm(self):
                pass

            def run(self, k, sample_id, carry):
                outer.now += work[k - 1]
                outer.calls.append((bundle.manifest.method, k))
                return carry

        return Steps()

    def timer(self):
        return self.now


def run_tiny(root, **top):
    scenario = api.load(raw_scenario(**top), base=root)
    model = ModelTime(scenario)
    v = validate(scenario, mechanism="auto", detector=lambda: REFUSED,
                 steps_for=model.steps_for, timer=model.timer, core=None)
    return v, model


def test_model_exact_stages_reproduce_the_simulator_job_by_job(root):
    v, model = run_tiny(root)
    assert v.mechanism.name == "dilation" and "fallback" in v.mechanism.reason
    assert [r.name for r in v.runs] == ["step", "slim"]
    for run in v.runs:
        assert len(run.real) == len(run.sim) > 50
        key = [(r.job_id, r.dropped, r.stages_done, r.result_stage, r.hit, r.correct)
               for r in run.sim]
        assert [(r.job_id, r.dropped, r.stages_done, r.result_stage, r.hit, r.correct)
                for r in run.real] == key
    figures = v.figures()
    assert {run["agreement"] for run in figures.values()} == {1.0}
    assert len({r.stages_done for r in v.runs[0].sim}) > 1, "steps must matter"
    assert len({k for method, k in model.calls if method == "slimmable"}) > 1
    # on the dilated clock the executor's own Python is part of the stretched span
    assert all(s.before_s == 0.0 for run in v.runs for s in run.samples)


def test_a_slower_host_shows_up_as_a_difference(root):
    scenario = api.load(raw_scenario(), base=root)
    model = ModelTime(scenario)
    for work in model.work.values():
        work[:] = [w * 1.6 for w in work]
    v = validate(scenario, mechanism="dilation", steps_for=model.steps_for,
                 timer=model.timer, core=None)
    x = v.figures()["step"]
    assert x["agreement"] < 1.0
    assert x["real"]["mean_steps"] < x["sim"]["mean_steps"]
    first = x["steps"][0]
    assert first["measured_median_ms"] == pytest.approx(1.6 * first["model_ms"])


def test_the_simulation_at_the_measured_host_speed_explains_a_slower_host(root):
    raw = raw_scenario()
    raw["platform"]["stage_overhead_ms"] = 0.0   # the fake's steps are all graph
    scenario = api.load(raw, base=root)
    model = ModelTime(scenario)
    for work in model.work.values():
        work[:] = [w * 1.6 for w in work]
    v = validate(scenario, mechanism="dilation", steps_for=model.steps_for,
                 timer=model.timer, core=None)
    for name, x in v.figures().items():
        speed = x["host_speed"]
        assert [speed[k] for k in ("before", "after", "ratio")] == pytest.approx([1.6] * 3)
        # a step the deadline cuts still runs to its end for real (not in simulation):
        # the one difference left once the speed is right
        assert x["scaled"]["agreement"] >= 0.98 and x["scaled"]["met"]
        assert x["scaled"]["agreement"] > x["agreement"] + 0.1
        assert x["met_scaled"] and x["repeats"][0]["scaled"]["met"]
        assert not x["met"]


def test_bounds_and_restarting_policies_are_skipped_and_said_so(root):
    raw = raw_scenario(bounds=["budget_oracle"])
    raw["systems"][1]["policy"]["restart"] = True
    v, _ = run_tiny(root, **{k: raw[k] for k in ("bounds", "systems")})
    assert [r.name for r in v.runs] == ["step"]
    assert set(v.skipped) == {"slim", "step@budget_oracle", "slim@budget_oracle"}
    assert "cannot be interrupted" in v.skipped["slim"]


def test_validation_json_has_both_sides_per_system(root, tmp_path):
    v, _ = run_tiny(root)
    out = tmp_path / "out"
    report.write(v, out, "testbed validate tiny.yaml")
    doc = json.loads((out / "validation.json").read_text())
    assert doc["command"] == "testbed validate tiny.yaml"
    assert doc["mechanism"]["name"] == "dilation" and doc["met"] is True
    for name in ("step", "slim"):
        system = doc["systems"][name]
        for side in ("sim", "real"):
            assert set(system[side]) >= {"hit_rate", "accuracy_at_deadline", "mean_steps",
                                         "p50_ms", "p95_ms"}
        assert system["agreement"] == 1.0
    rows = (out / "jobs.csv").read_text().splitlines()
    assert rows[0].startswith("system,job_id,arrival_ms,budget,sim_steps,real_steps")
    assert len(rows) == 1 + sum(len(run.sim) for run in v.runs)
    text = (out / "report.md").read_text()
    assert "dilation" in text and "| step |" in text and (out / report.FIGURE_FILE).is_file()
    # macs cost model: no execution-time draws, so no ceiling to report
    assert system["self_agreement"] is None and "| sim vs itself |" in text
    report.write(v, out, "again")  # an earlier report is replaced
    assert json.loads((out / "validation.json").read_text())["command"] == "again"


@pytest.mark.parametrize("extra, message", [
    (["--duration", "-1"], "--duration"),
    (["--period-ms", "0"], "--period-ms"),
    (["--core", "999"], "--core"),
    (["--overhead-us", "300"], "--overhead-us"),
    (["--repeat", "0"], "--repeat"),
    (["--probe-s", "-1"], "--probe-s"),
    (["--set", "workload.cam.deadline_ms=-3"], "deadline_ms"),
    ([], "ONNX Runtime cannot load"),  # the toy bundles' stage files are placeholders
])
def test_bad_input_is_one_error_line(root, tmp_path, capsys, extra, message):
    pytest.importorskip("onnxruntime")
    path = root / "tiny.yaml"
    path.write_text(json.dumps(raw_scenario()))
    code = main(["validate", str(path), "--out", str(tmp_path / "o"), "--mechanism",
                 "dilation", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("testbed validate: error:") and message in err[-1]
    assert not (tmp_path / "o").exists()


def test_each_repeat_reports_the_simulation_against_itself(root, monkeypatch):
    """With execution-time variability every run carries its simulation's agreement with
    itself redrawn (here the macs model draws nothing, so, forced on, it is 1.0)."""
    from testbed.validate import validation
    monkeypatch.setattr(validation, "has_variability", lambda scenario: True)
    v, _ = run_tiny(root)
    figures = v.figures()
    for name in ("step", "slim"):
        assert figures[name]["self_agreement"] == 1.0
        assert [r["self_agreement"] for r in figures[name]["repeats"]] == [1.0]
    assert all(run.self_agreement == 1.0 for run in v.runs)
    from testbed.commands.validate import summary
    doc = report.write(v, root / "out", "testbed validate tiny.yaml")
    assert "step 100.0 %, slim 100.0 %" in summary(doc)
    assert "| 100.0 % | 100.0 % |" in (root / "out" / "report.md").read_text()


def test_dry_run_prints_the_simulation_and_runs_nothing(root, tmp_path, capsys):
    path = root / "tiny.yaml"
    path.write_text(json.dumps(raw_scenario()))
    assert main(["validate", str(path), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sim vs itself" in out and "no execution-time variability" in out
    assert out.count("\n") >= 3 and not (tmp_path / "o").exists()
    tasks = Path(__file__).resolve().parents[2] / "scenarios" / "phone_ui_rt.yaml"
    assert main(["validate", str(tasks), "--dry-run"]) == 2   # a task set, as without it
    assert "task set is not supported" in capsys.readouterr().err


def test_a_missing_scenario_is_one_error_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_the_executors_own_time_before_each_graph_is_recorded(root, monkeypatch):
    """A clock on which every reading costs 5 µs (as the executor's Python does between
    two graphs on the wall clock): each step records that much before its graph."""
    from testbed.validate import validation
    from testbed.validate.mechanism import DilatedClock

    class Ticking(DilatedClock):
        def now(self):
            self.t += 5e-6
            return self.t

    monkeypatch.setattr(validation, "DilatedClock", Ticking)
    v, _ = run_tiny(root)
    samples = [s for run in v.runs for s in run.samples]
    assert samples and all(s.before_s == pytest.approx(5e-6) for s in samples)
    assert v.figures()["step"]["steps"][0]["before_median_us"] == pytest.approx(5.0)
