import csv
import os
import json

import numpy as np
import pytest

from tests.report.reportfakes import events, hand_records, manifest, rec
from testbed.errors import TestbedError
from testbed.report.document import Report
from testbed.report.metrics import final_latencies, summarize
from testbed.report.writers import (JobsCsvWriter, atomic_folder, check_replaceable,
                                    write_report)
from testbed.sim.records import JOB_COLUMNS


def make_report(seeds=(1, 2), curve=True) -> Report:
    records = [r for s in seeds for sys in ("a", "b") for r in hand_records(sys, s)]
    summaries = summarize(records, idle_w=0.1, duration_s=1.0)
    return Report(
        scenario="toy", scenario_file="scenarios/toy.yaml", command="testbed run toy.yaml",
        seeds=tuple(seeds), duration_s=1.0, summaries=summaries,
        systems_info={"a": {"bundle": "toy-a", "method": "steppingnet", "policy": "greedy"}},
        curve=[(d, summaries) for d in (10.0, 20.0)] if curve else (),
        manifests={"a": manifest("a"), "b": manifest("b", "slimmable", (60, 120, 200))},
        latencies_s=final_latencies(records), workload_deadlines_ms=(30.0,),
        events=events("a") + events("b"), events_seed=1,
        budget=(np.array([0.0, 0.1, 0.2]), np.array([1.0, 0.3, 1.0])), window=(0.0, 0.5),
        wall_s=1.234)


class FakeTrace:
    def write_csv(self, path):
        path.write_text("time_s,budget\n0.0,1.0\n")


def old_report(tmp_path):
    target = tmp_path / "reports" / "toy"
    target.mkdir(parents=True)
    (target / "metrics.json").write_text("old")
    (target / "keep.txt").write_text("old extra")
    return target


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_failure_mid_write_leaves_the_previous_report_untouched(tmp_path):
    target = old_report(tmp_path)
    before = snapshot(target)
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "metrics.json").write_text("new")
            with JobsCsvWriter(tmp / "jobs.csv") as jobs:
                jobs.write(hand_records())
                raise RuntimeError("simulator crashed")
    assert snapshot(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy"]   # no temp left


def test_success_replaces_the_previous_report_whole(tmp_path):
    target = old_report(tmp_path)
    with atomic_folder(target) as tmp:
        (tmp / "metrics.json").write_text("new")
        assert not (target / "metrics.json").read_text() == "new"       # not yet visible
    assert snapshot(target) == {"metrics.json": b"new"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy"]


def test_atomic_folder_creates_missing_parents(tmp_path):
    with atomic_folder(tmp_path / "a" / "b") as tmp:
        (tmp / "x").write_text("1")
    assert (tmp_path / "a" / "b" / "x").read_text() == "1"


def test_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path):
    (tmp_path / "data.txt").write_text("precious")
    with pytest.raises(TestbedError, match="not empty"):
        check_replaceable(tmp_path)
    with pytest.raises(TestbedError, match="not a folder"):
        check_replaceable(tmp_path / "data.txt")
    (tmp_path / "empty").mkdir()
    assert check_replaceable(tmp_path / "empty") == tmp_path / "empty"


def test_jobs_csv_one_row_per_record_with_the_record_columns(tmp_path):
    records = hand_records("a", 1) + hand_records("b", 1)
    with JobsCsvWriter(tmp_path / "jobs.csv") as w:
        w.write(records[:3])          # appended in pieces, as runs finish
        w.write(records[3:])
    assert w.rows == len(records)
    with open(tmp_path / "jobs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == JOB_COLUMNS and len(rows) == len(records)
    for row, r in zip(rows, records):
        assert row["system"] == r.system and int(row["job_id"]) == r.job_id
        assert row["hit"] == str(r.hit)
        assert float(row["macs_wasted"]) == r.macs_wasted
        assert row["final_result_s"] == ("" if r.final_result_s is None
                                         else repr(r.final_result_s))


def test_write_report_writes_every_file(tmp_path):
    write_report(tmp_path, make_report(), trace=FakeTrace())
    names = {p.name for p in tmp_path.iterdir()}
    assert {"metrics.json", "trace.csv", "report.md", "rates.png", "timeline.png",
            "profiles.png", "latency.png", "deadlines.png"} <= names
    md = (tmp_path / "report.md").read_text()
    for fig in ("rates.png", "timeline.png", "profiles.png", "latency.png", "deadlines.png"):
        assert f"({fig})" in md
    assert "## Deadline sweep" in md and "wall time" not in md


def test_report_md_does_not_depend_on_the_wall_clock(tmp_path):
    for name, wall_s in (("one", 1.234), ("two", 98.7)):
        (tmp_path / name).mkdir()
        write_report(tmp_path / name, Report(**{**make_report().__dict__, "wall_s": wall_s}))
    for file in ("report.md", "metrics.json"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()


def test_metrics_json_schema_and_determinism(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        write_report(tmp_path / name, make_report())
    data = (tmp_path / "one" / "metrics.json").read_bytes()
    assert data == (tmp_path / "two" / "metrics.json").read_bytes()
    doc = json.loads(data)
    assert doc["scenario"] == "toy" and doc["seeds"] == [1, 2] and doc["duration_s"] == 1.0
    assert doc["command"] == "testbed run toy.yaml" and doc["confidence"] == 0.95
    a = doc["systems"]["a"]
    assert a["bundle"] == "toy-a" and a["policy"] == "greedy"
    assert a["metrics"]["hit_rate"] == {"mean": 0.5, "ci95": [0.5, 0.5], "n": 2,
                                        "per_seed": [0.5, 0.5]}
    assert a["classes"]["emergency"]["jobs"]["mean"] == 1
    assert [p["deadline_ms"] for p in doc["deadline_sweep"]] == [10.0, 20.0]
    assert "classes" not in doc["deadline_sweep"][0]["systems"]["a"]
    assert "wall" not in data.decode()


def test_one_seed_report_says_there_is_no_interval(tmp_path):
    write_report(tmp_path, make_report(seeds=(7,), curve=False))
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["systems"]["b"]["metrics"]["hit_rate"]["ci95"] is None
    md = (tmp_path / "report.md").read_text()
    assert "One seed only: no confidence interval" in md
    assert not (tmp_path / "deadlines.png").exists()


def test_timeline_with_no_events_and_empty_latencies(tmp_path):
    report = make_report(seeds=(1,), curve=False)
    report = Report(**{**report.__dict__, "events": (), "latencies_s": {"a": []}})
    write_report(tmp_path, report)
    assert (tmp_path / "timeline.png").exists() and not (tmp_path / "latency.png").exists()


def test_class_rows_even_for_a_single_record(tmp_path):
    summaries = summarize([rec("z", 1)])
    report = Report("s", "s.yaml", "testbed run s.yaml", (1,), 1.0, summaries)
    write_report(tmp_path, report)
    assert "z / camera" in (tmp_path / "report.md").read_text()


def test_leftovers_of_a_killed_writer_are_cleaned_and_a_moved_report_put_back(tmp_path):
    import subprocess
    import sys

    from testbed.report.writers import recover_stale
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    target = tmp_path / "report"
    (tmp_path / f".report.tmp-{dead}-abc").mkdir()                 # half-built new report
    holder = tmp_path / f".report.old-{dead}-xyz"                  # earlier report, moved aside
    (holder / "report").mkdir(parents=True)
    (holder / "report" / "metrics.json").write_text("{}")
    running = tmp_path / f".report.tmp-{os.getpid()}-live"         # a writer still at work
    running.mkdir()
    recover_stale(target)
    assert (target / "metrics.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report", running.name])
