"""`testbed run` end to end with toy bundles: the report folder, determinism, and that
bad input or a crash leaves an earlier report untouched."""

import csv
import json
from pathlib import Path

import pytest

import testbed.sim.engine as engine
from testbed.cli import main
from testbed.scenario import load_scenario
from testbed.sim.records import JOB_COLUMNS
from tests.toybundle import make_toy_models

SCENARIO = """
name: toy
description: Two anytime systems and a slimmable one on a contended platform.
seed: 3
duration_s: 1
platform: {peak_gmacs: 0.5, stage_overhead_ms: 0.2, pj_per_mac: 5.0, idle_w: 0.3}
budget:
  kind: contention
  base: 1.0
  bursts: [{rate_hz: 2, share: [0.4, 0.8], duration_ms: [50, 400]}]
workload:
  - {name: camera, kind: periodic, period_ms: 33.3, jitter_ms: 1.0, deadline_ms: 30, overrun: drop_old}
  - {name: emergency, kind: sporadic, rate_hz: 4, deadline_ms: 10, priority: 1}
systems:
  - {name: stepping, model: models/step, policy: {name: deadline_aware}}
  - {name: greedy, model: models/step, policy: greedy}
  - {name: slim, model: models/slim, policy: {name: pick_at_start}}
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scenario")
    make_toy_models(root)
    (root / "toy.yaml").write_text(SCENARIO)
    return root / "toy.yaml"


def run(*argv) -> int:
    return main(["run", *map(str, argv)])


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_report_folder_end_to_end(scenario, tmp_path, capsys):
    out = tmp_path / "report"
    assert run(scenario, "--out", out, "--seeds", 2, "--deadlines", "10,30") == 0
    assert {"metrics.json", "jobs.csv", "trace.csv", "report.md", "rates.png",
            "timeline.png", "profiles.png", "latency.png", "deadlines.png"} <= set(snapshot(out))
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["scenario"] == "toy" and doc["seeds"] == [3, 4] and doc["duration_s"] == 1.0
    assert list(doc["systems"]) == ["stepping", "greedy", "slim"]
    assert doc["systems"]["slim"]["policy"] == "pick_at_start"
    # cost_model macs: a step costs its MACs at the 0.5 GMAC/s peak plus the 0.2 ms overhead
    manifest = json.loads((scenario.parent / "models/step/manifest.json").read_text())
    assert doc["systems"]["stepping"]["step_ms"] == pytest.approx(
        [s["macs"] / 0.5e6 + 0.2 for s in manifest["stages"]], abs=1e-4)
    assert "ms per step at budget 1.0 [" in (out / "report.md").read_text()
    assert [p["deadline_ms"] for p in doc["deadline_sweep"]] == [10.0, 30.0]
    assert doc["command"] == f"testbed run {scenario} --out {out} --deadlines 10,30 --seeds 2"
    table = capsys.readouterr().out
    assert all(name in table for name in ("stepping", "greedy", "slim", "hit rate"))


def test_every_workload_class_has_its_breakdown(scenario, tmp_path):
    out = tmp_path / "report"
    assert run(scenario, "--out", out) == 0
    classes = json.loads((out / "metrics.json").read_text())["systems"]["stepping"]["classes"]
    assert set(classes) == {"camera", "emergency"}, (
        "records label every job with one class: see the late-bound `i` in the generator "
        "expression of testbed.sim.workload.frames")
    assert classes["camera"]["jobs"]["mean"] >= 29      # 1 s of 33.3 ms frames


def test_jobs_csv_is_every_record_of_every_seed(scenario, tmp_path):
    out = tmp_path / "report"
    assert run(scenario, "--out", out, "--seeds", 2) == 0
    sc = load_scenario(scenario)
    records = [r for seed in (3, 4) for r in engine.simulate(sc, seed).records]
    with open(out / "jobs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == JOB_COLUMNS and len(rows) == len(records)
    assert [(r["system"], int(r["seed"]), int(r["job_id"])) for r in rows] == \
        [(r.system, r.seed, r.job_id) for r in records]
    doc = json.loads((out / "metrics.json").read_text())
    jobs = doc["systems"]["greedy"]["metrics"]["jobs"]["per_seed"]
    assert jobs == [sum(r.system == "greedy" and r.seed == s for r in records) for s in (3, 4)]


def test_same_seed_gives_identical_metrics_json(scenario, tmp_path):
    out = tmp_path / "report"
    assert run(scenario, "--out", out, "--seed", 7) == 0
    first = (out / "metrics.json").read_bytes()
    assert run(scenario, "--out", out, "--seed", 7) == 0
    assert (out / "metrics.json").read_bytes() == first
    assert json.loads(first)["systems"]["greedy"]["metrics"]["hit_rate"]["ci95"] is None


def test_default_out_and_trace_override(scenario, tmp_path, monkeypatch):
    trace = tmp_path / "budget.csv"
    trace.write_text("time_s,budget\n0.0,1.0\n0.5,0.2\n0.7,1.0\n2.0,1.0\n")
    monkeypatch.chdir(tmp_path)
    assert run(scenario, "--trace", trace, "--duration", 0.5) == 0
    out = tmp_path / "reports" / "toy"
    assert (out / "trace.csv").read_text().splitlines()[:3] == \
        ["time_s,budget", "0.0,1.0", "0.5,0.2"]
    assert json.loads((out / "metrics.json").read_text())["duration_s"] == 0.5


@pytest.mark.parametrize("argv", [["--deadlines", "10,x"], ["--seeds", "0"],
                                  ["--trace", "/no/such.csv"], ["--live"]])
def test_bad_input_exits_2_and_leaves_the_report(scenario, tmp_path, argv, capsys,
                                                monkeypatch):
    monkeypatch.delenv("TESTBED_DATA", raising=False)
    out = tmp_path / "report"
    assert run(scenario, "--out", out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert run(scenario, "--out", out, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("testbed run: error: ") and err.count("\n") == 1
    assert snapshot(out) == before


def test_bad_scenario_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_s: -1\n")
    assert run(bad, "--out", tmp_path / "r") == 2
    assert str(bad) in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_simulator_crash_mid_run_leaves_the_report(scenario, tmp_path, monkeypatch):
    out = tmp_path / "report"
    assert run(scenario, "--out", out) == 0
    before = snapshot(out)
    real, calls = engine.simulate, []

    def crash_on_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*a, **kw)
    monkeypatch.setattr(engine, "simulate", crash_on_second)
    with pytest.raises(RuntimeError, match="boom"):
        run(scenario, "--out", out, "--seeds", 3)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_refuses_to_overwrite_a_folder_that_is_not_a_report(scenario, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert run(scenario, "--out", tmp_path) == 2
    assert "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_tuned_run_reports_the_chosen_setting_and_never_tunes_on_an_evaluation_seed(
        scenario, tmp_path, monkeypatch):
    import yaml
    raw = yaml.safe_load(scenario.read_text())
    raw["systems"][0]["policy"] = {"name": "deadline_aware",
                                   "tune": {"margin": [0.0, 0.5], "ewma_alpha": [0.05, 1.0]}}
    raw["systems"][2]["policy"] = "auto"
    raw["tuning"] = {"seeds": 2}
    path = scenario.parent / "tuned.yaml"
    path.write_text(yaml.safe_dump(raw))
    seen, real = [], engine.simulate
    monkeypatch.setattr(engine, "simulate", lambda sc, seed=None, **kw: seen.append(
        (len(sc.systems), seed)) or real(sc, seed=seed, **kw))
    out = tmp_path / "tuned"
    assert run(path, "--out", out, "--seeds", 2) == 0
    doc = json.loads((out / "metrics.json").read_text())
    evaluation = set(doc["seeds"])
    tuning = {seed for n, seed in seen if n != 3}  # tuning runs simulate candidate sets
    assert tuning == {1_000_000, 1_000_001} and not tuning & evaluation
    assert {seed for n, seed in seen if n == 3} == evaluation
    stepping = doc["systems"]["stepping"]
    assert stepping["tuning"]["candidates"] == 4 and stepping["tuning"]["seeds"] == [1_000_000,
                                                                                      1_000_001]
    best = stepping["tuning"]["top"][0]
    assert stepping["policy"] == best["policy"] == "deadline_aware"
    assert stepping["policy_params"] == best["params"]
    assert doc["systems"]["slim"]["tuning"]["candidates"] > 10
    assert "greedy" not in {n for n in doc["systems"] if "tuning" in doc["systems"][n]}
    assert "## Tuning" in (out / "report.md").read_text()


def test_a_short_trace_holds_its_last_value_and_the_run_says_so(scenario, tmp_path, capsys):
    trace = tmp_path / "short.csv"
    trace.write_text("time_s,budget\n0,1.0\n0.3,0.25\n")
    out = tmp_path / "short"
    assert run(scenario, "--trace", trace, "--out", out) == 0
    err = capsys.readouterr().err
    assert "short.csv ends at 0.3 s; the run lasts 1 s: its last value 0.25 holds" in err
    used = [line.split(",") for line in (out / "trace.csv").read_text().splitlines()[1:]]
    assert float(used[-1][1]) == 0.25  # never back to 1.0: held, not repeated
