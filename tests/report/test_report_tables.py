from tests.report.reportfakes import hand_records, rec
from testbed.report.markdown import reading
from testbed.report.metrics import summarize
from testbed.report.table import class_table, deadline_table, summary_table


def two_systems(seeds=(1,)):
    records = []
    for seed in seeds:
        records += [rec("fast", seed, j, hit=True, correct=j % 2 == 0) for j in range(4)]
        records += hand_records("slow", seed)
    return summarize(records)


def test_terminal_table_one_row_per_system():
    text = summary_table(two_systems())
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["system", "jobs", "dropped"]
    assert lines[2].startswith("fast") and "100.0%" in lines[2] and "50.0%" in lines[2]
    assert lines[3].startswith("slow") and "25.0%" in lines[3]
    assert "±" not in text                     # one seed: no interval shown


def test_tables_show_intervals_and_undefined_values():
    summaries = two_systems(seeds=(1, 2))
    assert "±" in summary_table(summaries)
    md = class_table(summaries, markdown=True)
    assert md.splitlines()[1].startswith("| --- | ---: |")
    assert "| slow / emergency |" in md and "| - |" in md   # no latency without a result
    curve = deadline_table([(10.0, summaries), (20.0, summaries)])
    assert len(curve.splitlines()) == 2 + 4


def test_reading_names_a_leader_only_by_a_paired_interval():
    text = reading(two_systems(seeds=(1, 2, 3)))   # fast beats slow by 50 points every seed
    assert ("**fast** has the highest deadline hit rate: 100.0% (±0.0); paired difference to "
            "it: slow (50.0% (±0.0)) \u221250.0 points (95% interval \u221250.0..\u221250.0)"
            in text)
    assert "**fast** has the highest accuracy at deadline" in text


def test_one_seed_is_never_a_win():
    text = reading(two_systems())
    assert "has the highest" not in text
    assert "**fast** and **slow**: no difference in deadline hit rate" in text
    assert "one seed: no interval" in text and "One seed only" in text


def test_reading_reports_ties():
    text = reading(summarize(hand_records("a") + hand_records("b")))
    assert "**a** and **b**: no difference in deadline hit rate (a 50.0%, b 50.0%;" in text
