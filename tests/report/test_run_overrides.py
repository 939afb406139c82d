"""`testbed run --set / --systems / --jobs` end to end with toy bundles, and the progress
bar: overrides by path and by item name, bad paths and names (exit 2, one line), the
reference and the bounds under --systems, and every jobs mode."""

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
import tqdm
import yaml

import testbed.report.writers as writers
from testbed.cli import main
from tests.report.test_run_command import SCENARIO
from tests.toybundle import make_toy_models

# One periodic class whose jobs never overlap, so the budget oracle is allowed.
BOUNDED = """
name: bounded
seed: 2
duration_s: 1
platform: {peak_gmacs: 0.5, stage_overhead_ms: 0.2, pj_per_mac: 5.0, idle_w: 0.3}
budget: {kind: contention, base: 1.0, bursts: [{rate_hz: 2, share: [0.4, 0.8], duration_ms: [50, 400]}]}
workload:
  - {name: camera, kind: periodic, period_ms: 33.3, deadline_ms: 30, overrun: drop_old}
reference: slim
bounds: [budget_oracle]
systems:
  - {name: stepping, model: models/step, policy: {name: deadline_aware}}
  - {name: slim, model: models/slim, policy: {name: pick_at_start}}
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("overrides")
    make_toy_models(root)
    (root / "toy.yaml").write_text(SCENARIO)
    (root / "bounded.yaml").write_text(BOUNDED)
    return root


@pytest.fixture(scope="module")
def scenario(root) -> Path:
    return root / "toy.yaml"


def run(*argv) -> int:
    return main(["run", *map(str, argv)])


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- --set ---------------------------------------------------------------------------

def test_set_by_item_name_with_yaml_values_is_applied_and_recorded(scenario, tmp_path):
    out = tmp_path / "r"
    sets = ["workload.camera.deadline_ms=25",                          # a class by name
            "systems.slim.policy={name: pick_at_start, margin: 1}",     # a mapping
            "systems.stepping.policy.margin=0.5",                      # a key the file omits
            "systems.1.policy=fixed", "systems.1.policy={name: fixed, k: 2}",  # later wins
            "mk=[3, 4]"]
    assert run(scenario, "--out", out, *[w for s in sets for w in ("--set", s)]) == 0
    doc = metrics(out)
    assert doc["systems"]["slim"]["policy_params"]["margin"] == 1.0
    assert doc["systems"]["stepping"]["policy_params"]["margin"] == 0.5
    assert doc["systems"]["greedy"]["policy"] == "fixed"
    assert doc["systems"]["greedy"]["policy_params"]["k"] == 2
    assert doc["mk"] == [3, 4]
    assert doc["command"] == (f"testbed run {scenario} --out {out} " + " ".join(
        f"--set '{s}'" if " " in s or "{" in s or "[" in s else f"--set {s}" for s in sets))
    deadlines = [float(r["deadline_s"]) - float(r["arrival_s"])
                 for r in rows(out / "jobs.csv") if r["job_class"] == "camera"]
    assert deadlines and deadlines == pytest.approx([0.025] * len(deadlines))


@pytest.mark.parametrize("setting,named", [
    ("systems.nosuch.policy=greedy", "systems.nosuch"),
    ("systems.greedy.policy.margin=1", "systems.greedy.policy is 'greedy'"),
    ("workload.camera.deadline_ms.x=1", "workload.camera.deadline_ms is 30"),
    ("platform.peak_gmacs=-1", "platform.peak_gmacs"),
    ("platform.peak_gmac=1", "platform.peak_gmac"),
    ("nosuch=1", "nosuch"),
    ("systems.5.name=x", "systems.5"),
    ("noequals", "PATH=VALUE"),
    ("a=[1,", "not valid YAML"),
])
def test_a_bad_set_is_one_line_naming_it_and_leaves_the_report(scenario, tmp_path, capsys,
                                                               setting, named):
    out = tmp_path / "r"
    assert run(scenario, "--out", out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert run(scenario, "--out", out, "--set", setting) == 2
    err = capsys.readouterr().err
    assert err.startswith("testbed run: error: ") and err.count("\n") == 1
    assert named in err
    assert snapshot(out) == before


# --- --systems -----------------------------------------------------------------------

def test_systems_by_name_and_index_keep_their_metrics_and_move_the_reference(
        scenario, tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run(scenario, "--out", full, "--seeds", 2) == 0
    capsys.readouterr()
    assert run(scenario, "--out", part, "--seeds", 2, "--systems", "2,greedy") == 0
    err = capsys.readouterr().err
    assert "--systems: the reference stepping is not kept; paired differences are against " \
           "greedy" in err
    doc, whole = metrics(part), metrics(full)
    assert list(doc["systems"]) == ["greedy", "slim"]          # scenario order
    assert doc["reference"] == "greedy" and "paired" in doc["systems"]["slim"]
    assert doc["quality_bar"] == whole["quality_bar"]         # the whole scenario's bar
    for name in ("greedy", "slim"):                           # systems never interact
        assert doc["systems"][name]["metrics"] == whole["systems"][name]["metrics"]
    assert doc["command"].endswith("--seeds 2 --systems 2,greedy")
    assert {r["system"] for r in rows(part / "jobs.csv")} == {"greedy", "slim"}


@pytest.mark.parametrize("keep", ["nosuch", "stepping,nosuch", "3", "stepping@budget_oracle",
                                  ","])
def test_a_bad_system_name_is_one_line_listing_the_known_ones(scenario, tmp_path, capsys,
                                                              keep):
    assert run(scenario, "--out", tmp_path / "r", "--systems", keep) == 2
    err = capsys.readouterr().err
    assert err.startswith("testbed run: error: --systems: ") and err.count("\n") == 1
    if keep != ",":
        assert repr(keep.split(",")[-1]) in err and "stepping, greedy, slim" in err
    assert not (tmp_path / "r").exists()


def test_bounds_follow_the_kept_systems(root, tmp_path, capsys):
    out = tmp_path / "b"
    assert run(root / "bounded.yaml", "--out", out, "--systems", "stepping") == 0
    doc = metrics(out)
    assert list(doc["systems"]) == ["stepping", "stepping@budget_oracle"]
    assert doc["reference"] == "stepping"
    assert doc["systems"]["stepping@budget_oracle"]["bound_of"] == "stepping"
    assert "the reference slim is not kept" in capsys.readouterr().err
    assert run(root / "bounded.yaml", "--out", out, "--systems", "slim,stepping",
               "--set", "bounds=[]") == 0
    doc = metrics(out)
    assert list(doc["systems"]) == ["stepping", "slim"] and doc["reference"] == "slim"
    assert "not kept" not in capsys.readouterr().err


def test_set_and_systems_apply_to_every_deadline_variant(scenario, tmp_path):
    out = tmp_path / "d"
    assert run(scenario, "--out", out, "--systems", "slim", "--deadlines", "10,20",
               "--set", "systems.slim.policy={name: fixed, k: 1}") == 0
    sweep = metrics(out)["deadline_sweep"]
    assert [list(p["systems"]) for p in sweep] == [["slim"], ["slim"]]


# --- --jobs --------------------------------------------------------------------------

def test_jobs_full_writes_every_row_plain_below_the_limit(scenario, tmp_path, capsys):
    out = tmp_path / "full"
    assert run(scenario, "--out", out, "--seeds", 2) == 0
    n = len(rows(out / "jobs.csv"))
    assert n == sum(s["metrics"]["jobs"]["mean"] * 2 for s in metrics(out)["systems"].values())
    assert f"jobs: jobs.csv: one row per job and system ({n:,} rows)" in capsys.readouterr().err


def test_jobs_full_compresses_above_the_limit_and_says_so(scenario, tmp_path, capsys,
                                                          monkeypatch):
    plain, big = tmp_path / "plain", tmp_path / "big"
    assert run(scenario, "--out", plain, "--seeds", 2) == 0
    monkeypatch.setattr(writers, "JOBS_PLAIN_MAX", 100)
    capsys.readouterr()
    assert run(scenario, "--out", big, "--seeds", 2, "--jobs", "full") == 0
    err = capsys.readouterr().err
    assert not (big / "jobs.csv").exists()
    with gzip.open(big / "jobs.csv.gz", "rb") as f:
        assert f.read() == (plain / "jobs.csv").read_bytes()
    line = [l for l in err.splitlines() if l.startswith("jobs: ")]
    assert len(line) == 1 and line[0].startswith("jobs: jobs.csv.gz: one row per job and "
                                                 "system, gzip-compressed (")
    assert "over the 100 written plain" in line[0]
    first = (big / "jobs.csv.gz").read_bytes()
    assert run(scenario, "--out", big, "--seeds", 2, "--jobs", "full") == 0
    assert (big / "jobs.csv.gz").read_bytes() == first         # reproducible bytes


def test_jobs_sample_keeps_each_systems_first_jobs_of_the_first_seed(scenario, tmp_path,
                                                                    capsys, monkeypatch):
    monkeypatch.setattr(writers, "JOBS_SAMPLE", 5)
    out = tmp_path / "s"
    assert run(scenario, "--out", out, "--seeds", 2, "--jobs", "sample") == 0
    assert not (out / "jobs.csv").exists()
    got = [(r["system"], r["seed"], r["job_id"]) for r in rows(out / "jobs_sample.csv")]
    assert got == [(s, "3", str(j)) for s in ("stepping", "greedy", "slim") for j in range(5)]
    assert "jobs: jobs_sample.csv: the first 5 jobs of each system in seed 3 (15 rows" \
        in capsys.readouterr().err
    assert metrics(out)["systems"]["slim"]["metrics"]["jobs"]["n"] == 2  # metrics: all


def test_jobs_none_writes_no_jobs_file(scenario, tmp_path, capsys):
    out = tmp_path / "n"
    assert run(scenario, "--out", out, "--jobs", "none") == 0
    assert not [p for p in out.iterdir() if p.name.startswith("jobs")]
    assert "jobs: no jobs file (--jobs none)" in capsys.readouterr().err
    assert metrics(out)["command"].endswith("--jobs none")


# --- progress bar -----------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class EveryStep(tqdm.tqdm):
    """The bar, drawn at every step (not at most every 0.1 s)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "mininterval": 0, "miniters": 1})


def test_progress_bar_only_on_a_terminal_and_it_counts_tuning_seeds_and_deadlines(
        scenario, tmp_path, capsys, monkeypatch):
    raw = yaml.safe_load(scenario.read_text())
    raw["systems"][0]["policy"] = {"name": "deadline_aware", "tune": {"margin": [0.0, 0.5]}}
    raw["tuning"] = {"seeds": 1}
    tuned = scenario.parent / "progress.yaml"
    tuned.write_text(yaml.safe_dump(raw))
    argv = [tuned, "--out", tmp_path / "r", "--seeds", 2, "--deadlines", "10,20"]
    assert run(*argv) == 0
    assert "tuning and simulating" not in capsys.readouterr().err   # stderr is no terminal
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("tqdm.tqdm", EveryStep)
    assert run(*argv) == 0
    bar = terminal.getvalue()
    assert "tuning and simulating" in bar and "9/9" in bar  # (2 seeds + 1 tuned) x 3


def test_help_states_the_jobs_limits_the_writer_uses():
    import argparse

    from testbed.commands.run import EPILOG, add_arguments
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = EPILOG + parser.format_help()
    assert f"{writers.JOBS_PLAIN_MAX:,} job rows" in text and f"first {writers.JOBS_SAMPLE} jobs" in text
    examples = [line for line in EPILOG.splitlines() if line.startswith("  testbed run ")]
    for flag in ("--set ", "--systems ", "--jobs "):
        assert any(flag in line for line in examples), flag
