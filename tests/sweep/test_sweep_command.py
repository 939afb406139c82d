"""`testbed sweep` end to end on a tiny grid: the same rows on every executor and worker
count, resuming, failing points, and errors before anything runs."""

import csv
import json
from pathlib import Path

import pytest

import testbed.sim.engine as engine
import testbed.sweep.point as point
from testbed.cli import main

ROWS = 8  # 4 points x 2 systems


def sweep(*argv) -> int:
    return main(["sweep", *map(str, argv)])


def rows_of(out: Path) -> list[dict]:
    with open(out / "rows.csv", newline="") as f:
        return list(csv.DictReader(f))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def count_points(monkeypatch):
    """Counts the grid points actually simulated (in-process: one local worker)."""
    calls = []
    real = point.run_point

    def counting(base, p, duration_s):
        calls.append(p.params)
        return real(base, p, duration_s)
    monkeypatch.setattr(point, "run_point", counting)
    return calls


def test_table_and_report(sweep_file, tmp_path):
    out = tmp_path / "s"
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 0
    rows = rows_of(out)
    assert len(rows) == ROWS and len(jsonl(out / "rows.jsonl")) == ROWS
    assert [(r["point"], r["system"]) for r in rows] == \
        [(str(i), s) for i in range(4) for s in ("slim", "stepping")]
    assert {r["deadline_ms"] for r in rows} == {"10.0", "30.0"} and {r["seed"] for r in rows} == {"1", "2"}
    first = rows[0]
    for metric in ("hit_rate", "accuracy_at_deadline", "mean_stages", "macs_executed",
                   "macs_wasted", "mean_budget", "workload.0.deadline_ms", "point_key"):
        assert first[metric] != "", metric
    assert 0 < float(first["mean_budget"]) <= 1
    assert {"rows.csv", "rows.jsonl", "summary.json", "report.md", "vs_deadline.png",
            "vs_budget.png"} <= {p.name for p in out.iterdir()}
    report = (out / "report.md").read_text()
    assert f"command: `testbed sweep {sweep_file} --workers 1 --out {out}`" in report
    assert "vs_deadline.png" in report and "| stepping | 30 |" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["points"] == 4 and summary["rows"] == ROWS and summary["failures"] == []


@pytest.mark.slow
def test_same_rows_with_1_and_2_local_workers_and_on_dask(sweep_file, tmp_path):
    runs = {"local1": ("--workers", 1), "local2": ("--workers", 2),
            "dask2": ("--executor", "dask", "--workers", 2)}
    for name, extra in runs.items():
        assert sweep(sweep_file, "--out", tmp_path / name, *extra) == 0, name
    tables = {name: (tmp_path / name / "rows.csv").read_bytes() for name in runs}
    assert tables["local1"] == tables["local2"] == tables["dask2"]
    assert len(rows_of(tmp_path / "local1")) == ROWS


def test_resume_skips_finished_points_and_a_torn_last_line(sweep_file, tmp_path, count_points):
    out = tmp_path / "s"
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 0
    assert len(count_points) == 4
    full = (out / "rows.csv").read_bytes()
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 0
    assert len(count_points) == 4  # nothing left to run
    assert (out / "rows.csv").read_bytes() == full
    # interrupted after point 0 (2 rows) while writing point 1: its line is torn
    lines = (out / "rows.jsonl").read_text().splitlines(keepends=True)
    done = [line for line in lines if json.loads(line)["point"] == 0]
    torn = next(line for line in lines if json.loads(line)["point"] == 1)[:40]
    (out / "rows.jsonl").write_text("".join(done) + torn)
    (out / "rows.csv").unlink()
    count_points.clear()
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 0
    assert sorted(c["seed"] + c["workload.0.deadline_ms"] for c in count_points) == [12, 31, 32]
    assert (out / "rows.csv").read_bytes() == full
    assert len(jsonl(out / "rows.jsonl")) == ROWS  # the torn line is gone


def test_a_failing_point_is_reported_with_its_parameters_and_the_others_complete(
        sweep_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "s"
    real = engine.simulate

    def flaky(scenario, *args, **kwargs):
        if scenario.seed == 2 and scenario.workload[0].deadline_ms == 30:
            raise RuntimeError("simulated crash")
        return real(scenario, *args, **kwargs)
    monkeypatch.setattr(engine, "simulate", flaky)
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 1
    err = capsys.readouterr().err
    assert "failed point 3 {'workload.0.deadline_ms': 30, 'seed': 2}: RuntimeError: simulated crash" in err
    failures = jsonl(out / "failures.jsonl")
    assert [(f["point"], f["params"]) for f in failures] == \
        [(3, {"workload.0.deadline_ms": 30, "seed": 2})]
    assert "simulated crash" in failures[0]["error"]
    assert sorted({r["point"] for r in rows_of(out)}) == ["0", "1", "2"]
    assert json.loads((out / "summary.json").read_text())["failures"][0]["point"] == 3
    assert "1 point(s) failed" in (out / "report.md").read_text()
    monkeypatch.setattr(engine, "simulate", real)  # fixed: a rerun runs only that point
    assert sweep(sweep_file, "--out", out, "--workers", 1) == 0
    assert len(rows_of(out)) == ROWS and jsonl(out / "failures.jsonl") == []


def test_a_bad_override_path_is_an_error_before_anything_runs(write_sweep, tmp_path, capsys,
                                                              count_points):
    path = write_sweep("base: base.yaml\ngrid:\n  workload.0.deadline_ms: [10]\n"
                       "  workload.3.deadline_ms: [10, 20]\n")
    out = tmp_path / "s"
    assert sweep(path, "--out", out, "--workers", 1) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other.yaml: grid point 0" in err
    assert "workload.3.deadline_ms" in err and "present in the scenario" in err
    assert count_points == [] and not out.exists()


def test_a_bad_override_value_is_an_error_before_anything_runs(write_sweep, tmp_path, capsys,
                                                               count_points):
    path = write_sweep("base: base.yaml\ngrid:\n  workload.0.deadline_ms: [10, -5]\n")
    assert sweep(path, "--out", tmp_path / "s", "--workers", 1) == 2
    assert "grid point 1" in capsys.readouterr().err and count_points == []


def test_an_unreachable_scheduler_is_a_clear_error(sweep_file, tmp_path, capsys, monkeypatch,
                                                   count_points):
    import testbed.sweep.executors as executors
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    out = tmp_path / "s"
    assert sweep(sweep_file, "--out", out, "--executor", "dask",
                 "--address", "tcp://127.0.0.1:9") == 2
    err = capsys.readouterr().err
    assert "--address tcp://127.0.0.1:9: cannot reach the Dask scheduler" in err
    assert count_points == [] and jsonl(out / "rows.jsonl") == []


@pytest.mark.parametrize("argv, message", [
    (("--address", "tcp://127.0.0.1:9"), "--address is for --executor dask"),
    (("--workers", 0), "--workers"),
    (("--duration", 0), "--duration"),
])
def test_bad_options_are_errors(sweep_file, tmp_path, capsys, argv, message):
    assert sweep(sweep_file, "--out", tmp_path / "s", *argv) == 2
    assert message in capsys.readouterr().err


def test_rows_from_changed_inputs_are_discarded_and_rerun(sweep_root, tmp_path, count_points, capsys,
                                                          monkeypatch):
    """Resume only trusts rows computed from the same scenario, bundles and metric
    definitions: after a bundle is re-profiled, the base scenario is edited or a metric's
    definition changes, every point runs again."""
    import shutil
    root = tmp_path / "copy"
    shutil.copytree(sweep_root, root)
    out = tmp_path / "s"
    assert sweep(root / "sweep.yaml", "--out", out, "--workers", 1) == 0
    assert len(count_points) == 4 and all(r["inputs"] for r in jsonl(out / "rows.jsonl"))
    assert sweep(root / "sweep.yaml", "--out", out, "--workers", 1) == 0
    assert len(count_points) == 4                       # same inputs: nothing reruns
    (root / "models" / "step" / "profile.json").write_text("{}")
    capsys.readouterr()
    assert sweep(root / "sweep.yaml", "--out", out, "--workers", 1) == 0
    assert len(count_points) == 8
    assert "discarded 8 row(s) computed from other inputs" in capsys.readouterr().err
    base = root / "base.yaml"
    base.write_text(base.read_text().replace("idle_w: 0.3", "idle_w: 0.4"))
    assert sweep(root / "sweep.yaml", "--out", out, "--workers", 1) == 0
    assert len(count_points) == 12 and len(jsonl(out / "rows.jsonl")) == ROWS
    import testbed.report.metrics
    monkeypatch.setattr(testbed.report.metrics, "REVISION", testbed.report.metrics.REVISION + 1)
    assert sweep(root / "sweep.yaml", "--out", out, "--workers", 1) == 0
    assert len(count_points) == 16 and len(jsonl(out / "rows.jsonl")) == ROWS  # new metrics
