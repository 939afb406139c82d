"""Fault injection (issue 9, item 1): the ``faults:`` schema, the seeded windows, the
trace and frame transforms, the engine's handling of each fault, and the report's
breakdown by fault window."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from testbed.cli import main
from testbed.errors import ConfigError
from testbed.scenario import load_scenario
from testbed.sim.engine import fault_plan, make_trace, simulate
from testbed.sim.faults import Faults, FaultPlan, Signal, in_windows, overlaps, plan, stall_trace
from testbed.sim.params import parse
from testbed.sim.trace import Trace, budget_at
from testbed.sim.workload import frames, parse_workload
from tests.sim.builders import scenario_dict
from tests.toybundle import make_toy_bundle

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CAMERA = {"name": "cam", "kind": "periodic", "period_ms": 10, "deadline_ms": 8}


def write(tmp_path, raw) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def tiny(tmp_path) -> Path:
    """Two incremental stages of 1 MMAC (1 ms each at 1 GMAC/s), one sample, right only
    after stage 2."""
    return make_toy_bundle(tmp_path / "tiny", stage_macs=[1_000_000, 1_000_000],
                           correct=[[False, True]], num_samples=1)


def tiny_scenario(tmp_path, bundle, faults=None, policy="greedy", **top):
    raw = scenario_dict([{"name": "t", "model": str(bundle), "policy": policy}], seed=0,
                        duration_s=0.2, platform={"peak_gmacs": 1.0, "pj_per_mac": 1.0},
                        workload=[CAMERA], **top)
    if faults is not None:
        raw["faults"] = faults
    return load_scenario(write(tmp_path, raw))


@pytest.mark.parametrize("faults, where", [
    ({"stalls": {"duration_ms": 10}}, "faults.stalls.0.rate_hz"),
    ({"stalls": {"rate_hz": 1, "duration_ms": 10, "bogus": 1}}, "faults.stalls.0.bogus"),
    ({"dropouts": {"rate_hz": 1, "duration_ms": [20, 10]}}, "faults.dropouts.0.duration_ms"),
    ({"bursts": {"rate_hz": 1, "duration_ms": 10, "period_ms": 0}}, "faults.bursts.0.period_ms"),
    ({"bursts": {"rate_hz": 1, "duration_ms": 10, "period_ms": 5, "job_class": "x"}},
     "faults.bursts.0.job_class"),
    ({"stage_failures": {"probability": 1.5}}, "faults.stage_failures.probability"),
    ({"budget_signal": {"bias": -1}}, "faults.budget_signal.bias"),
    ({"lightning": {}}, "faults.lightning"),
    ([1, 2], "faults"),
])
def test_bad_faults_sections_name_the_field(tmp_path, tiny, faults, where):
    with pytest.raises(ConfigError, match=f"s.yaml: {where}: expected"):
        tiny_scenario(tmp_path, tiny, faults)


def test_windows_are_seeded_merged_and_scripted():
    faults = parse(Faults, {"stalls": [{"at_s": [1.0, 1.05], "duration_ms": 100},
                                       {"rate_hz": 2, "duration_ms": [10, 50]}]}, "f", "faults")
    a, b = plan(faults, 1, 20.0, ["cam"]), plan(faults, 1, 20.0, ["cam"])
    assert a == b and a != plan(faults, 2, 20.0, ["cam"])
    assert a.stalls[0] == pytest.approx((1.0, 1.15))  # two scripted windows: merged
    starts = [w[0] for w in a.stalls]
    assert starts == sorted(starts) and all(w[1] < n for w, n in zip(a.stalls, starts[1:]))
    assert 20 < len(a.stalls) < 60  # ~2 per second over 20 s
    assert plan(None, 1, 20.0, ["cam"]) == FaultPlan(seed=1)


def test_stalls_zero_the_budget_inside_windows_only():
    trace = Trace(np.array([0.0, 0.5, 1.2]), np.array([1.0, 0.5, 0.8]), after="repeat")
    stalls = ((0.3, 0.6), (1.3, 1.4), (2.5, 2.6))
    out = stall_trace(trace, stalls, 3.0)
    for t in np.linspace(0, 2.99, 300):
        want = 0.0 if in_windows(t, stalls) else budget_at(trace, t)
        assert budget_at(out, t) == pytest.approx(want)
    assert out.after == "hold" and out.time_s[-1] == 3.0
    assert stall_trace(trace, (), 3.0) is trace


def test_dropouts_and_bursts_transform_the_frame_stream():
    classes = parse_workload([CAMERA], "f")
    faults = parse(Faults, {"dropouts": {"at_s": [0.1], "duration_ms": 45},
                            "bursts": {"at_s": [0.3], "duration_ms": 20, "period_ms": 2}},
                   "f", "faults")
    out = list(frames(classes, 0, 0.5, np.arange(5), plan(faults, 0, 0.51, ["cam"])))
    plain = list(frames(classes, 0, 0.5, np.arange(5)))
    assert [f.job_id for f in out] == list(range(len(out)))
    lost = [round(f.arrival_s, 6) for f in out if f.lost]
    assert lost == [0.1, 0.11, 0.12, 0.13, 0.14] and all(
        f.fault == "dropout" for f in out if f.lost)
    burst = [round(f.arrival_s, 6) for f in out if f.fault == "burst"]
    assert burst == [round(0.3 + 0.002 * i, 6) for i in range(10)]
    outside = [f.arrival_s for f in out if not 0.3 <= f.arrival_s < 0.32]
    assert outside == [f.arrival_s for f in plain if not 0.3 <= f.arrival_s < 0.32]
    assert all(f.fails == 0 for f in out)


def test_overlap_and_membership_of_windows():
    w = ((1.0, 2.0), (3.0, 4.0))
    assert in_windows(1.0, w) and not in_windows(2.0, w) and not in_windows(0.5, w)
    assert overlaps(0.5, 1.01, w) and overlaps(1.9, 2.5, w) and not overlaps(2.0, 3.0, w)


def test_a_lost_frame_is_recorded_dropped_in_every_system(tmp_path, tiny):
    sc = tiny_scenario(tmp_path, tiny, {"dropouts": {"at_s": [0.05], "duration_ms": 25}})
    result = simulate(sc)
    lost = [r for r in result.records if r.fault == "dropout"]
    assert [r.job_id for r in lost] == [5, 6, 7]
    assert all(r.dropped and not r.hit and r.macs_executed == 0 for r in lost)
    assert sum(not r.dropped and r.hit for r in result.records) == len(result.records) - 3


def test_a_failing_stage_keeps_the_last_good_result(tmp_path, tiny):
    sc = tiny_scenario(tmp_path, tiny, {"stage_failures": {"probability": 1.0, "stages": [2]}})
    r = simulate(sc).records[0]
    assert (r.stages_done, r.result_stage, r.failed_stage, r.hit, r.correct) == (1, 1, 2, True,
                                                                                  False)
    assert r.macs_executed == 2e6 and r.macs_wasted == 1e6
    assert r.final_result_s == pytest.approx(0.001)
    first = replace(sc, faults=parse(Faults, {"stage_failures": {"probability": 1.0}}, "f", "f"))
    r = simulate(first).records[0]
    assert (r.result_stage, r.failed_stage, r.hit, r.macs_wasted) == (0, 1, False, 1e6)


def test_the_oracle_foresees_stage_failures(tmp_path, tiny):
    sc = tiny_scenario(tmp_path, tiny, {"stage_failures": {"probability": 1.0, "stages": [2]}},
                       policy="oracle")
    r = simulate(sc).records[0]
    assert r.result_stage == 1 and r.failed_stage == 0  # nothing right is reachable: stage 1


def test_a_stall_delays_the_result_and_is_named(tmp_path, tiny):
    sc = tiny_scenario(tmp_path, tiny, {"stalls": {"at_s": [0.0005], "duration_ms": 3}})
    assert budget_at(make_trace(sc), 0.002) == 0.0
    r = simulate(sc).records
    assert r[0].fault == "stall" and r[0].final_result_s == pytest.approx(0.005)
    assert r[1].fault == ""


def test_a_mis_estimated_budget_misleads_the_policy_not_the_platform(tmp_path, tiny):
    policy = {"name": "deadline_aware", "min_stages": 0, "margin": 0.0, "ewma_alpha": 1.0}
    told_low = {"budget_signal": {"bias": -0.9}}
    honest = simulate(tiny_scenario(tmp_path, tiny, None, policy)).records
    misled = simulate(tiny_scenario(tmp_path, tiny, told_low, policy)).records
    assert all(r.result_stage == 2 for r in honest)
    assert all(r.result_stage == 0 for r in misled)  # told 10% of the truth: nothing fits
    signal_ = Signal((0.0, 0.1), (1.0, 2.0), 0.05)
    assert signal_.factor(0.15) == 2.0 and signal_.reading_time(0.02) == 0.0


def test_faults_change_nothing_else(tmp_path, tiny):
    """Same seed: without a faults section, with an empty one, and the fault-free
    components (the budget, the frames outside windows) of a faulty run agree."""
    plain = simulate(tiny_scenario(tmp_path, tiny)).records
    empty = simulate(tiny_scenario(tmp_path, tiny, {})).records
    assert plain == empty


def test_the_faults_scenario_covers_every_fault(tmp_path):
    bundles = {m: make_toy_bundle(tmp_path / m, method=m, seed=i)
               for i, m in enumerate(("steppingnet", "anywidth", "slimmable", "static"))}
    raw = yaml.safe_load((SCENARIOS / "faults.yaml").read_text())
    overrides = {f"systems.{i}.model": str(bundles[s["name"]])
                 for i, s in enumerate(raw["systems"])}
    overrides["cost_model"] = "macs"  # toy stage files are not ONNX graphs to count
    sc = load_scenario(SCENARIOS / "faults.yaml", overrides=overrides, duration_s=20)
    assert sc.faults.budget_signal is not None and fault_plan(sc, sc.seed).signal is not None
    groups = {part for r in simulate(sc).records
              for part in (r.fault.split("+") + ["stage_failure" if r.failed_stage else ""])}
    assert {"stall", "dropout", "burst", "stage_failure"} <= groups


def test_the_report_breaks_metrics_down_by_fault_window(tmp_path, tiny, monkeypatch):
    import testbed.report.writers as writers
    monkeypatch.setattr(writers, "write_figures", lambda folder, report: {})
    faults = {"stalls": {"at_s": [0.05], "duration_ms": 20},
              "dropouts": {"at_s": [0.12], "duration_ms": 15},
              "stage_failures": {"probability": 0.3}}
    raw = scenario_dict([{"name": "t", "model": str(tiny), "policy": "greedy"}], seed=0,
                        duration_s=0.2, platform={"peak_gmacs": 1.0}, workload=[CAMERA],
                        faults=faults)
    assert main(["run", str(write(tmp_path, raw)), "--out", str(tmp_path / "r"),
                 "--seeds", "2"]) == 0
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    groups = doc["systems"]["t"]["faults"]
    assert {"none", "stall", "dropout"} <= set(groups)
    assert sum(g["jobs"]["mean"] for g in groups.values()) == doc["systems"]["t"]["metrics"][
        "jobs"]["mean"]
    assert groups["dropout"]["hit_rate"]["mean"] == 0.0
    assert "## By fault window" in (tmp_path / "r" / "report.md").read_text()
    del raw["faults"]
    assert main(["run", str(write(tmp_path, raw)), "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert "faults" not in plain["systems"]["t"]


def test_a_budget_watching_policy_on_a_repeating_trace_does_not_hang(tmp_path):
    """Regression: rounding made ``next_change`` return its own argument at some cycle
    boundaries, and ``pick_at_start`` with ``restart`` then asked forever."""
    make_toy_bundle(tmp_path / "slim", method="slimmable")
    (tmp_path / "t.csv").write_text("time_s,budget\n0,1.0\n0.5,0.5\n1.2,0.8\n")
    raw = scenario_dict([{"name": "s", "model": "slim",
                          "policy": {"name": "pick_at_start", "restart": True}}],
                        duration_s=20, budget={"kind": "trace", "file": "t.csv", "after": "repeat"},
                        workload=[{"name": "c", "kind": "periodic", "period_ms": 10,
                                   "deadline_ms": 300}])
    sc = load_scenario(write(tmp_path, raw))
    previous = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError()))
    signal.alarm(60)
    try:
        assert len(simulate(sc).records) == 2000
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    integral, t = sc.budget.trace._integral, 0.0
    for _ in range(20_000):
        t, before = integral.next_change(t), t
        assert t > before
