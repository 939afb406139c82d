"""The co-runner rig of `testbed validate`: what it imposes at its own resolution, the
feedback that sets its spins, and repeats judged by majority."""

import math

import numpy as np

import pytest

from testbed import api
from testbed.sim.trace import Trace
from testbed.validate import validation
from testbed.validate.corunner import imposed
from testbed.validate.validation import _median_index, calibrate_corunner, validate

from .test_validate import REFUSED, ModelTime, raw_scenario, root  # noqa: F401 (fixture)

P = 0.00025


@pytest.mark.parametrize("budget, overhead", [(0.6, 0.0), (0.6, 2e-5), (0.3, 5e-5),
                                              (0.9, 0.0)])
def test_each_period_serves_the_budget_after_the_spin(budget, overhead):
    t, v = imposed([0.0, 0.001, 0.002], [1.0, budget, 1.0], 0.003, P, overhead)
    trace = Trace(t, v)
    integral = trace._integral
    assert integral.at(0.001) == pytest.approx(0.001)  # full budget: whole periods
    spin = (1 - budget) * P - overhead
    for k in range(4):
        start = 0.001 + k * P
        assert integral.at(start + P) - integral.at(start) == pytest.approx(budget * P)
        assert trace._integral.rate(start + spin / 2) == 0.0  # the co-runner spins
        assert integral.at(start + spin) == pytest.approx(integral.at(start))
    assert integral.at(0.003) - integral.at(0.002) == pytest.approx(0.001)


def test_no_overhead_means_nothing_then_the_whole_core():
    t, v = imposed([0.0], [0.6], 0.0005, P)
    assert v == [0.0, 1.0, 0.0, 1.0]
    assert t == pytest.approx([0.0, 0.4 * P, P, 1.4 * P])


def test_the_spin_feedback_converges_on_the_budget(monkeypatch):
    """A fake host where the executor loses 30 µs per period, of which a shorter spin
    gives back only half: the first correction falls short, the next rounds close in."""
    loss, calls = 30e-6, []

    def check(core, period_s, steps, num_steps, budget=0.5, runs=200, overhead_s=0.0):
        calls.append(overhead_s)
        got = budget - (loss - 0.5 * overhead_s) / period_s
        return {"budget": budget, "runs": runs, "alone_mean_ms": 1.0,
                "shared_mean_ms": 1.0 / got, "effective_budget": got}

    monkeypatch.setattr(validation, "corunner_check", check)
    c = calibrate_corunner(1, P, None, 3)
    assert c["measured"] and len(c["rounds"]) == 3
    assert abs(c["after"]["effective_budget"] - 0.5) <= validation.RIG_TOLERANCE
    assert calls[1] == pytest.approx(loss) and calls[2] > calls[1]
    calls.clear()
    given = calibrate_corunner(1, P, None, 3, overhead_s=1e-5)
    assert not given["measured"] and len(given["rounds"]) == 1 and calls == [0.0, 1e-5]


def test_the_median_repeat_is_picked_by_agreement():
    assert _median_index([0.9, 0.5, 0.7]) == 2
    assert _median_index([0.9, 0.5]) == 1
    assert _median_index([0.8]) == 0


def test_repeats_run_every_system_again_and_the_majority_decides(root):  # noqa: F811
    scenario = api.load(raw_scenario(), base=root)
    model = ModelTime(scenario)
    v = validate(scenario, mechanism="auto", detector=lambda: REFUSED,
                 steps_for=model.steps_for, timer=model.timer, core=None, repeats=3)
    assert [(r.name, r.repeat) for r in v.runs] == [
        ("step", 1), ("slim", 1), ("step", 2), ("slim", 2), ("step", 3), ("slim", 3)]
    figures = v.figures()
    for x in figures.values():
        assert [r["repeat"] for r in x["repeats"]] == [1, 2, 3]
        assert x["met_repeats"] == 3 and x["met"]
    assert [r.repeat for r in v.representative()] == [2, 2]  # all agree: the middle one


def test_a_job_arriving_while_the_processor_serves_nothing_starts_when_it_serves():
    """The policy runs on the processor it schedules: in a stretch of budget 0 (a stall,
    or the co-runner's spin) nothing is decided; the job starts when service resumes."""
    from testbed.sim.engine import simulate
    from tests.sim.builders import scenario_dict
    from tests.toybundle import make_toy_bundle
    import tempfile, pathlib, yaml
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        bundle = make_toy_bundle(tmp / "tiny", stage_macs=[1_000_000, 1_000_000],
                                 correct=[[False, True]], num_samples=1)
        raw = scenario_dict([{"name": "tiny", "model": str(bundle), "policy": "greedy"}],
                            seed=0, duration_s=0.01, platform={"peak_gmacs": 1.0},
                            budget={"kind": "step", "times_s": [0, 0.0005],
                                    "budgets": [0.0, 1.0]},
                            workload=[{"name": "cam", "kind": "periodic", "period_ms": 10,
                                       "deadline_ms": 3}])
        (tmp / "s.yaml").write_text(yaml.safe_dump(raw))
        [record] = simulate(api.load(tmp / "s.yaml")).records
    assert record.start_s == pytest.approx(0.0005)
    assert record.final_result_s == pytest.approx(0.0025) and record.hit
    assert math.isfinite(record.final_result_s)


def test_repeats_whose_corunner_missed_its_budget_are_counted_apart(monkeypatch):
    """A repeat whose co-runner check ended off its budget imposed another budget than the
    trace's: the figures say how many held it and how many of those met the target."""
    from testbed.validate import report
    from testbed.validate.validation import rig_held
    check = lambda after: {"budget": 0.5, "overhead_us": 20.0,   # noqa: E731
                           "before": {"effective_budget": 0.4},
                           "after": {"effective_budget": after}}
    assert rig_held(check(0.515)) and not rig_held(check(0.43)) and rig_held(None) is None

    figures = {repeat: {"repeat": repeat, "real": {}, "difference": {}, "agreement": agree,
                        "met": agree > 0.9, "corunner": check(after)}
               for repeat, after, agree in ((1, 0.51, 0.95), (2, 0.43, 0.95), (3, 0.60, 0.5))}
    monkeypatch.setattr(validation, "_figures", lambda run: figures[run])
    v = validation.Validation(None, None, None, P)
    monkeypatch.setattr(v, "by_system", lambda: {"s": [1, 2, 3]})   # runs: their figures
    x = v.figures()["s"]
    assert [r["rig_held"] for r in x["repeats"]] == [True, False, False]
    assert x["rig_held_repeats"] == 1 and x["met_rig_held_repeats"] == 1
    assert x["met_repeats"] == 2 and x["met"]
    text = report._rig_verdict({"systems": {"s": x}})
    assert "within 0.02 in 1 of 3 repeats" in text and "1 met the target" in text


class StepClock:
    """A clock that moves 10 µs per reading, and as much as a job takes when one runs."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1e-5
        return self.t


def test_the_check_times_alone_and_shared_jobs_in_the_same_stretch_of_time():
    """Jobs take 1 ms in even stretches (co-runner away) and 2 ms in odd ones (budget
    0.5); from 0.3 s on the host is twice as slow for both. Timed one after the other the
    two kinds would fall on different speeds; alternating every 50 ms both see each."""
    from testbed.validate.validation import alternating
    clock = StepClock()

    def job():   # the co-runner's stretches start at t0 = 0.01, as the check's do
        k = int((clock.t - 0.01) // 0.05)
        slow = 2.0 if clock.t >= 0.3 else 1.0
        clock.t += (0.001 if k % 2 == 0 else 0.002) * slow

    stretches = alternating(job, 100, 0.01, 10.0, clock=clock)
    even = [t for k, v in stretches.items() if k % 2 == 0 for t in v]
    odd = [t for k, v in stretches.items() if k % 2 == 1 for t in v]
    assert len(even) >= 100 and len(odd) >= 100
    pairs = [np.mean(stretches[k - 1]) / np.mean(stretches[k]) for k in stretches
             if k % 2 and k - 1 in stretches]
    assert np.median(pairs) == pytest.approx(0.5, abs=0.01)   # the slow spell cancels out
    assert max(even) < 0.0041 and min(odd) > 0.0019    # no job straddles two stretches
    # a horizon of one stretch leaves no whole stretch to time a job in
    assert alternating(job, 5, clock.t + 0.01, 0.05, clock=clock) == {}
