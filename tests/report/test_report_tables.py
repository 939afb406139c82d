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


def test_reading_names_the_leader_and_the_missing_interval():
    text = reading(two_systems())
    assert "**fast** has the highest deadline hit rate: 100.0% (then slow 50.0%)" in text
    assert "**fast** has the highest accuracy at deadline" in text
    assert "One seed only" in text


def test_reading_reports_ties():
    text = reading(summarize(hand_records("a") + hand_records("b")))
    assert "**a**, **b** tie for the highest deadline hit rate: 50.0%" in text
