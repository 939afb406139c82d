"""Fair-comparison figures: utility, hit at quality, (m,k)-firm figures, answer shares,
paired differences to a reference system, and how report.md and metrics.json show them."""

import json
import math

import pytest

from tests.report.reportfakes import rec
from testbed.errors import TestbedError
from testbed.report.collect import RunCollector
from testbed.report.document import Report, metrics_document
from testbed.report.markdown import headline_table, reading, render
from testbed.report.metrics import (Interval, difference, group_metrics, interval,
                                    longest_miss_run, mk_violation_share, paired, sign,
                                    summarize)
from testbed.report.table import difference_cell

MINUS = "\u2212"


def quality_records(system="a", seed=1):
    """Step 2 (quality 0.7) right, step 1 (0.5) wrong, a miss and a drop."""
    return [rec(system, seed, 0, stages=2, quality=0.7),
            rec(system, seed, 1, stages=1, correct=False, quality=0.5),
            rec(system, seed, 2, hit=False),
            rec(system, seed, 3, hit=False, dropped=True, executed=0)]


def rate_records(system, seed, hits, jobs=4):
    """``jobs`` jobs of which the first ``hits`` meet the deadline."""
    return [rec(system, seed, j, hit=j < hits, quality=0.6) for j in range(jobs)]


def test_utility_and_hit_at_quality_by_hand():
    records = quality_records()
    m = group_metrics(records, quality_bar=0.6)
    assert m["utility"] == pytest.approx((0.7 + 0.5) / 4)    # miss and drop count 0
    assert m["hit_at_quality"] == 0.25                      # only job 0 reaches 0.6
    assert group_metrics(records, quality_bar=0.5)["hit_at_quality"] == 0.5
    assert group_metrics(records)["hit_at_quality"] is None   # no quality bar
    late = records[2]._replace(quality=0.9)                 # a miss never counts
    assert group_metrics(records[:2] + [late] + records[3:])["utility"] == m["utility"]


def test_answer_shares_by_hand_and_over_seeds():
    m = group_metrics(quality_records())
    assert m["answer_share_none"] == 0.5
    out = summarize(quality_records(seed=1) + [rec("a", 2, 0, stages=1)])["a"]
    assert list(out.answer_share) == [1, 2]
    assert out.answer_share[1].values == (0.25, 1.0)
    assert out.answer_share[2].values == (0.25, 0.0)        # step 2 answered nothing in seed 2
    assert out.metrics["answer_share_none"].values == (0.5, 0.0)


HITS = [True, False, False, True, False, False, False, True, True, True]


def test_longest_miss_run_on_a_hand_made_sequence():
    assert longest_miss_run(HITS) == 3
    assert longest_miss_run([]) == 0 and longest_miss_run([True] * 5) == 0
    assert longest_miss_run([False] * 4) == 4


def test_mk_violation_share_on_a_hand_made_sequence():
    # windows of 3 (8 of them): hits 1,1,1,1,0,1,2,3
    assert mk_violation_share(HITS, (2, 3)) == pytest.approx(6 / 8)
    assert mk_violation_share(HITS, (1, 3)) == pytest.approx(1 / 8)
    assert mk_violation_share(HITS, (0, 3)) == 0.0
    assert mk_violation_share(HITS, (9, 10)) == 1.0         # one window, 5 hits
    assert mk_violation_share(HITS[:9], (9, 10)) is None     # fewer than k jobs
    with pytest.raises(ValueError):
        mk_violation_share(HITS, (4, 3))


def test_mk_figures_follow_job_id_order_not_record_order():
    records = [rec("a", 1, j, hit=h) for j, h in enumerate(HITS)]
    m = group_metrics(list(reversed(records[:5])) + records[5:], mk=(2, 3))
    assert m["mk_longest_miss_run"] == 3
    assert m["mk_violation_share"] == pytest.approx(6 / 8)


def three_seeds(b_hits=(3, 4, 3), c_hits=(2, 3, 1)):
    """Reference a hits 2, 3, 1 of 4 jobs in seeds 1..3."""
    records = []
    for seed, a, b, c in zip((1, 2, 3), (2, 3, 1), b_hits, c_hits):
        records += rate_records("a", seed, a) + rate_records("b", seed, b)
        records += rate_records("c", seed, c)
    return summarize(records, quality_bar=0.6)


def test_paired_interval_by_hand():
    diffs = paired(three_seeds(b_hits=(3, 4, 3)), "a")
    assert set(diffs) == {"b", "c"}
    d = diffs["b"]["hit_rate"]                       # per seed: +0.25, +0.25, +0.5
    sd = math.sqrt(((0.25 - 1 / 3) ** 2 * 2 + (0.5 - 1 / 3) ** 2) / 2)
    half = 4.303 * sd / math.sqrt(3)                 # t(0.975, 2 df)
    assert d.n == 3 and d.mean == pytest.approx(1 / 3)
    assert d.ci == pytest.approx((1 / 3 - half, 1 / 3 + half))
    assert d.ci[0] < 0 and sign(d) == 0              # +33 points on average, yet no difference
    better = paired(three_seeds(b_hits=(4, 4, 3)), "a")["b"]["hit_rate"]   # +0.5, +0.25, +0.5
    assert better.ci[0] > 0 and sign(better) == 1
    assert sign(paired(three_seeds(), "b")["a"]["hit_rate"]) == 0
    same = diffs["c"]["hit_rate"]                    # identical to the reference
    assert same.mean == 0.0 and same.ci == (0.0, 0.0) and sign(same) == 0


def test_paired_difference_uses_only_seeds_where_both_are_defined():
    d = difference(interval([0.5, None, 0.7]), interval([0.4, 0.6, None]))
    assert d.n == 1 and d.mean == pytest.approx(0.1) and d.ci is None and sign(d) == 0
    with pytest.raises(ValueError):
        paired(three_seeds(), "nobody")


def test_difference_cell_says_no_difference_when_the_interval_contains_zero():
    assert difference_cell(Interval(0.031, (0.020, 0.042), 3, ())) == "+3.1 [+2.0, +4.2]"
    assert difference_cell(Interval(-0.031, (-0.042, -0.020), 3, ())) == \
        f"{MINUS}3.1 [{MINUS}4.2, {MINUS}2.0]"
    assert difference_cell(Interval(-0.003, (-0.010, 0.004), 3, ())) == \
        f"no difference ({MINUS}0.3 [{MINUS}1.0, +0.4])"
    assert difference_cell(Interval(0.02, None, 1, ())) == "no difference (+2.0, no interval)"
    assert difference_cell(Interval(None, None, 0, ())) == "-"


def fair_report(**kw) -> Report:
    summaries = three_seeds(b_hits=(4, 4, 3), c_hits=(2, 4, 0))
    info = {"a": {"policy": "greedy"},
            "b": {"policy": "budget_oracle", "bound": "budget oracle: knows the future budget"},
            "c": {"policy": "deadline_aware", "policy_params": {"margin": 0.25},
                  "tuning": {"objective": "accuracy_at_deadline", "seeds": [1001, 1002, 1003],
                             "candidates": 36, "score": 0.573,
                             "top": [{"policy": "deadline_aware", "params": {"margin": 0.25},
                                      "score": 0.573},
                                     {"policy": "greedy", "params": {}, "score": 0.5}]}}}
    return Report(**{"scenario": "toy", "scenario_file": "toy.yaml", "command": "testbed run",
                     "seeds": (1, 2, 3), "duration_s": 1.0, "summaries": summaries,
                     "systems_info": info, "quality_bar": 0.6, "mk": (2, 3), "wall_s": 3.0,
                     **kw})


def test_headline_marks_reference_bounds_and_differences():
    table = headline_table(fair_report()).splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == \
        ["| a (reference)", "| c", "| b (bound)"]        # bounds last
    a, c, b = table[2:]
    assert "·" not in a
    assert "deadline_aware (margin=0.25)" in c
    assert "· no difference (" in c                    # c − a: 0, +25, −25 points
    assert "· +41.7 [+5.8, +77.5] |" in b              # b − a: +50, +25, +50 points
    assert "hit@q≥0.6" in table[0]


def test_reading_never_ranks_a_bound_or_an_insignificant_lead():
    report = fair_report()
    text = reading(report.summaries, bounds=("b",))
    assert "has the highest" not in text               # a and c do not differ
    assert "**a** and **c**: no difference in deadline hit rate" in text
    assert "Not ranked (upper bounds, not real systems): **b**" in text


def test_report_md_tuning_and_mk_sections():
    md = render(fair_report(), {})
    assert "Tuning seeds are disjoint from the evaluation seeds (1–3)" in md
    assert "**c**: chose deadline_aware (margin=0.25), score 0.573 on `accuracy_at_deadline` " \
           "over 3 tuning seed(s) (1001–1003) among 36 candidates" in md
    assert "## (m,k)-firm and answers per step" in md and "(m,k) = (2,3)" in md
    assert "q = 0.6" in md and "| step 1 |" in md
    assert "wall" not in md
    overlap = fair_report(seeds=(1, 2, 1001))
    assert "**Warning:** tuning seeds 1001 are also evaluation seeds" in render(overlap, {})


def test_metrics_json_has_paired_differences_for_every_other_system():
    doc = json.loads(json.dumps(metrics_document(fair_report())))
    assert doc["reference"] == "a" and doc["quality_bar"] == 0.6 and doc["mk"] == [2, 3]
    assert doc["objective"] == "accuracy_at_deadline" and "wall_s" not in doc
    assert "paired" not in doc["systems"]["a"]
    for name in ("b", "c"):
        paired_doc = doc["systems"][name]["paired"]
        assert set(paired_doc["hit_rate"]) == {"mean", "ci95", "n"}
        assert {"utility", "hit_at_quality", "mk_violation_share"} <= set(paired_doc)
    assert doc["systems"]["b"]["paired"]["hit_rate"]["mean"] == pytest.approx(5 / 12)
    assert doc["systems"]["b"]["paired"]["hit_rate"]["n"] == 3
    assert doc["systems"]["c"]["tuning"]["candidates"] == 36
    assert doc["systems"]["a"]["answer_share"]["1"]["per_seed"] == [0.5, 0.75, 0.25]
    other = metrics_document(fair_report(reference="c"))
    assert other["reference"] == "c" and "paired" in other["systems"]["a"]
    with pytest.raises(TestbedError, match="nobody"):
        metrics_document(fair_report(reference="nobody"))


def test_collector_hands_quality_bar_and_mk_to_the_metrics():
    c = RunCollector(["a"], quality_bar=0.5, mk=(1, 2))
    c.add(1, quality_records())
    m = c.summaries()["a"].metrics
    assert m["hit_at_quality"].mean == 0.5
    assert m["mk_violation_share"].mean == pytest.approx(1 / 3)   # windows TT, TF, FF
    assert RunCollector(["a"]).summaries()["a"].metrics["hit_at_quality"].mean is None
