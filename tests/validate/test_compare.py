"""validation.json figures from hand-made simulated and real records."""

import pytest

from testbed.sim.records import JobRecord
from testbed.validate import compare
from testbed.validate.executor import StepSample


def rec(job_id, steps, correct=True, latency_ms=None, system="s"):
    latency = (1.0 + job_id) if latency_ms is None else latency_ms
    done = steps > 0
    return JobRecord(system=system, seed=1, job_id=job_id, job_class="c", sample_id=job_id,
                     arrival_s=0.0, deadline_s=0.01, dropped=False, stages_done=steps,
                     result_stage=steps, hit=done, correct=done and correct, confidence=0.5,
                     macs_executed=0.0, macs_wasted=0.0, energy_j=0.0, start_s=0.0,
                     first_result_s=1e-3 if done else None,
                     final_result_s=latency / 1e3 if done else None)


SIM = [rec(0, 2), rec(1, 2), rec(2, 1, correct=False), rec(3, 0)]
REAL = [rec(0, 2), rec(1, 1, correct=False), rec(2, 1, correct=False), rec(3, 1, correct=False)]


def test_agreement_is_the_share_of_jobs_with_the_same_steps():
    assert compare.agreement(SIM, REAL) == pytest.approx(0.5)  # jobs 0 and 2
    assert compare.agreement(SIM, list(reversed(SIM))) == 1.0  # matched by id, not order
    assert compare.agreement(SIM, []) is None


def test_same_steps_needs_the_same_result_too():
    a, b = rec(0, 2), rec(0, 2)._replace(result_stage=1)  # non-incremental: 2 runs, kept 1
    assert not compare.same_steps(a, b)


def test_sides_and_differences_in_points():
    x = compare.compare(SIM, REAL)
    assert x["sim"]["hit_rate"] == 0.75 and x["real"]["hit_rate"] == 1.0
    assert x["sim"]["accuracy_at_deadline"] == 0.5 and x["real"]["accuracy_at_deadline"] == 0.25
    assert x["difference"]["hit_rate"] == pytest.approx(25.0)
    assert x["difference"]["accuracy_at_deadline"] == pytest.approx(-25.0)
    assert x["sim"]["mean_steps"] == pytest.approx(5 / 4)
    assert x["sim"]["p50_ms"] == pytest.approx(2.0)  # latencies 1, 2, 3 ms
    assert set(compare.FIELDS) <= set(x["sim"]) and not x["met"]
    assert x["steps_confusion"] == [[0, 1, 0], [0, 1, 0], [0, 1, 1]]


def test_the_target_is_met_only_within_two_points_and_ninety_percent():
    same = compare.compare(SIM, SIM)
    assert same["met"] and same["agreement"] == 1.0
    many = [rec(i, 2) for i in range(100)]
    off = [rec(i, 2 if i >= 11 else 3) for i in range(100)]  # 89 % agree, same rates
    assert not compare.compare(many, off)["met"]


def test_step_costs_are_medians_of_what_was_served():
    samples = [StepSample("s", j, 1, 0.0, 1.0, True, ms / 1e3) for j, ms in enumerate((1, 2, 9))]
    rows = compare.step_costs(samples, (0.002, 0.003))
    assert rows[0]["measured_median_ms"] == pytest.approx(2.0) and rows[0]["runs"] == 3
    assert rows[0]["model_ms"] == pytest.approx(2.0)
    assert rows[1]["runs"] == 0 and rows[1]["measured_median_ms"] is None
    assert rows[0]["before_median_us"] == 0.0 and rows[1]["before_median_us"] is None
    spent = [StepSample("s", j, 1, 0.0, 1.0, True, 1e-3, us / 1e6)
             for j, us in enumerate((4, 7, 30))]
    assert compare.step_costs(spent, (0.001,))[0]["before_median_us"] == pytest.approx(7.0)
