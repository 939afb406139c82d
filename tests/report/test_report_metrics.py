import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.report.reportfakes import hand_records, rec
from testbed.report.metrics import (METRICS, group_metrics, interval, percentile,
                                    seed_summaries, summarize, t_critical)


def test_group_metrics_by_hand():
    m = group_metrics(hand_records())
    assert m["jobs"] == 4 and m["dropped"] == 1
    assert m["hit_rate"] == 0.5                 # jobs 0 and 1
    assert m["accuracy_at_deadline"] == 0.25    # job 1 is wrong, 2 and 3 missed
    assert m["mean_stages"] == 0.75             # (2 + 1 + 0 + 0) / 4
    assert m["macs_executed"] == 200 and m["macs_wasted"] == 50
    assert m["wasted_fraction"] == 0.25
    assert m["energy_dynamic_j"] == pytest.approx(2e-6)
    assert m["energy_idle_j"] is None and m["energy_j"] == pytest.approx(2e-6)
    # first-result latencies 10 and 15 ms; final-result latencies 20 and 15 ms
    assert m["latency_first_p50_s"] == pytest.approx(0.0125)
    assert m["latency_first_p95_s"] == pytest.approx(0.010 + 0.95 * 0.005)
    assert m["latency_final_p50_s"] == pytest.approx(0.0175)
    assert m["latency_final_p99_s"] == pytest.approx(0.015 + 0.99 * 0.005)
    assert set(m) == set(METRICS)


def test_idle_energy_is_added_once_per_system_and_seed():
    [s] = seed_summaries(hand_records(), idle_w=0.5, duration_s=10.0)
    assert s.metrics["energy_idle_j"] == 5.0
    assert s.metrics["energy_j"] == pytest.approx(5.0 + 2e-6)
    assert s.metrics["energy_per_job_j"] == pytest.approx((5.0 + 2e-6) / 4)
    assert s.classes["camera"]["energy_idle_j"] is None  # idle power belongs to no class


def test_idle_energy_leaves_out_the_time_the_processor_held_jobs():
    busy = [r._replace(busy_s=b) for r, b in zip(hand_records(), (2.0, 1.5, 0.0, 0.5))]
    [s] = seed_summaries(busy, idle_w=0.5, duration_s=10.0)
    assert s.metrics["energy_idle_j"] == pytest.approx(0.5 * (10.0 - 4.0))
    assert s.metrics["energy_j"] == pytest.approx(3.0 + 2e-6)
    [s] = seed_summaries([r._replace(busy_s=6.0) for r in hand_records()], idle_w=0.5,
                         duration_s=10.0)
    assert s.metrics["energy_idle_j"] == 0.0  # busy all the time (and past the end)


def test_empty_group_has_undefined_rates_not_zero():
    m = group_metrics([])
    assert m["jobs"] == 0 and m["macs_executed"] == 0
    for key in ("hit_rate", "accuracy_at_deadline", "wasted_fraction", "latency_final_p50_s"):
        assert m[key] is None


def test_percentile_linear_interpolation():
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([1, 2, 3, 4, 5], 99) == pytest.approx(4.96)
    assert percentile([7.0], 50) == 7.0
    assert percentile([], 50) is None


def test_interval_over_three_seeds_by_hand():
    iv = interval([0.5, 0.7, 0.9])
    half = 4.303 * 0.2 / math.sqrt(3)           # t(0.975, 2) * sd / sqrt(n)
    assert iv.mean == pytest.approx(0.7) and iv.n == 3
    assert iv.ci == pytest.approx((0.7 - half, 0.7 + half))
    assert iv.half_width == pytest.approx(half)


def test_one_seed_has_no_interval():
    iv = interval([0.5])
    assert iv.mean == 0.5 and iv.ci is None and iv.n == 1
    assert interval([None, 0.4]).ci is None       # one seed defines it
    assert interval([None]).mean is None
    assert interval([]).to_dict() == {"mean": None, "ci95": None, "n": 0, "per_seed": []}


def test_t_critical_table_and_expansion():
    assert t_critical(1) == 12.706 and t_critical(30) == 2.042
    for df, exact in ((31, 2.0395), (40, 2.0211), (60, 2.0003), (120, 1.9799)):
        assert t_critical(df) == pytest.approx(exact, abs=5e-4)
    with pytest.raises(ValueError):
        t_critical(0)


def test_summarize_over_seeds_and_systems():
    records = []
    for seed, hits in ((1, 1), (2, 2), (3, 3)):   # hit rates 1/4, 2/4, 3/4
        records += [rec("b", seed, j, hit=j < hits, arrival=j * 0.1) for j in range(4)]
        records += hand_records("a", seed)
    out = summarize(records, systems=["a", "b"])
    assert list(out) == ["a", "b"]
    b = out["b"].metrics["hit_rate"]
    assert b.values == (0.25, 0.5, 0.75) and b.mean == pytest.approx(0.5)
    assert b.ci == pytest.approx((0.5 - 4.303 * 0.25 / math.sqrt(3),
                                  0.5 + 4.303 * 0.25 / math.sqrt(3)))
    a = out["a"].metrics["hit_rate"]
    assert a.mean == 0.5 and a.ci == pytest.approx((0.5, 0.5))  # no spread: zero width
    assert out["a"].seeds == (1, 2, 3)


def test_class_breakdown_and_a_class_missing_from_a_seed():
    records = hand_records("a", 1) + [rec("a", 2, 0)]   # seed 2: one camera job only
    out = summarize(records)["a"]
    assert list(out.classes) == ["camera", "emergency"]
    cam = out.classes["camera"]
    assert cam["jobs"].values == (3, 1)
    assert cam["hit_rate"].values == (pytest.approx(2 / 3), 1.0)
    emergency = out.classes["emergency"]
    assert emergency["jobs"].values == (1, 0)           # zero jobs, not unknown
    assert emergency["hit_rate"].values == (0.0, None) and emergency["hit_rate"].n == 1


def test_a_system_without_records_in_a_seed_has_zero_jobs():
    summaries = seed_summaries([rec("a", 1)], systems=["a", "b"], seed=1,
                               idle_w=1.0, duration_s=2.0)
    b = {s.system: s for s in summaries}["b"]
    assert b.metrics["jobs"] == 0 and b.metrics["hit_rate"] is None
    assert b.metrics["energy_j"] == 2.0


record_st = st.builds(
    lambda hit, correct, dropped, executed, frac, quality: rec(
        hit=hit and not dropped, correct=correct, dropped=dropped, executed=executed,
        wasted=executed * frac, quality=quality),
    st.booleans(), st.booleans(), st.booleans(),
    st.floats(0, 1e9), st.floats(0, 1), st.floats(0, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(record_st, max_size=30))
def test_rates_are_consistent(records):
    m = group_metrics(records, quality_bar=0.5)
    if not records:
        return
    assert 0 <= m["accuracy_at_deadline"] <= m["hit_rate"] <= 1
    assert 0 <= m["utility"] <= m["hit_rate"] + 1e-12
    assert 0 <= m["hit_at_quality"] <= m["hit_rate"]
    assert m["answer_share_none"] == pytest.approx(1 - m["hit_rate"])
    assert 0 <= m["mk_longest_miss_run"] <= len(records)
    assert m["dropped"] <= m["jobs"] * (1 - m["hit_rate"]) + 1e-9
    if m["wasted_fraction"] is not None:
        assert 0 <= m["wasted_fraction"] <= 1 + 1e-12
