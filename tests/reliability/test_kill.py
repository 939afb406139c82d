"""Interrupted runs (issue 9, item 4): ``testbed run``, ``sweep`` and ``train`` killed with
SIGKILL at seeded random points leave every earlier output intact, and running the same
command again rewrites (run) or resumes (sweep, train) to exactly what an uninterrupted
run gives.

Each command runs as a real process in its own session; the whole process group is
killed, as a crash or an out-of-memory kill would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.reliability.conftest import ROOT, base_scenario
from tests.toybundle import make_toy_bundle

KILLS = {"run": 3, "sweep": 3, "train": 1}


def spawn(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "testbed", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def finish(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "testbed", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the process group; True if it was still running."""
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    return alive


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not predicate() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.02)


@pytest.fixture(scope="module")
def long_scenario(tmp_path_factory) -> Path:
    """A scenario whose run takes a few seconds (long enough to be killed mid-way)."""
    root = tmp_path_factory.mktemp("kill")
    make_toy_bundle(root / "models" / "step", method="steppingnet")
    make_toy_bundle(root / "models" / "slim", method="slimmable", seed=1)
    raw = base_scenario()
    raw["duration_s"] = 30.0
    (root / "long.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return root / "long.yaml"


def without_command(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("command")
    return doc


@pytest.mark.slow
def test_run_killed_keeps_the_earlier_report_and_reruns_identically(long_scenario, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    start = time.monotonic()
    finish("run", str(long_scenario), "--out", str(ref), "--seeds", "2")
    took = time.monotonic() - start
    finish("run", str(long_scenario), "--out", str(out), "--seed", "99")  # an earlier report
    earlier = snapshot(out)
    rng, killed = random.Random("run"), 0
    for _ in range(KILLS["run"] + 7):  # a loaded machine may finish before the kill: retry
        if killed >= KILLS["run"]:
            break
        proc = spawn("run", str(long_scenario), "--out", str(out), "--seeds", "2")
        time.sleep(rng.uniform(0.02, 0.5) * took)
        was_running = kill(proc)
        now = snapshot(out)
        if now != earlier:  # only a finished report may replace the earlier one
            assert now["jobs.csv"] == (ref / "jobs.csv").read_bytes()
            assert without_command(out / "metrics.json") == without_command(ref / "metrics.json")
            earlier = now
        else:
            killed += was_running
    assert killed >= 1
    finish("run", str(long_scenario), "--out", str(out), "--seeds", "2")
    assert (out / "jobs.csv").read_bytes() == (ref / "jobs.csv").read_bytes()
    assert without_command(out / "metrics.json") == without_command(ref / "metrics.json")


@pytest.fixture(scope="module")
def sweep_file(long_scenario) -> Path:
    path = long_scenario.parent / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "killme", "base": long_scenario.name,
                                    "duration_s": 4.0,
                                    "grid": {"workload.0.deadline_ms": [10, 20, 30],
                                             "seed": [1, 2]}}))
    return path


def jsonl(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


@pytest.mark.slow
def test_sweep_killed_keeps_finished_points_and_resumes(sweep_file, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    finish("sweep", str(sweep_file), "--out", str(ref), "--workers", "1")
    reference = {json.loads(line)["point_key"] + json.loads(line)["system"]: line
                 for line in jsonl(ref / "rows.jsonl")}
    rng, killed = random.Random("sweep"), 0
    for attempt in range(KILLS["sweep"]):
        proc = spawn("sweep", str(sweep_file), "--out", str(out), "--workers", "1")
        rows_before = len(jsonl(out / "rows.jsonl"))
        wait_for(lambda: len(jsonl(out / "rows.jsonl")) > rows_before + 1, proc)
        time.sleep(rng.uniform(0.0, 0.3))
        killed += kill(proc)
        lines = jsonl(out / "rows.jsonl")
        assert len(lines) >= rows_before  # nothing finished was lost
        for line in lines[:-1]:  # every complete row is a reference row (a torn last one
            row = json.loads(line)  # is dropped on resume)
            assert reference[row["point_key"] + row["system"]] == line
    assert killed >= 1
    done = finish("sweep", str(sweep_file), "--out", str(out), "--workers", "1")
    assert "already done" in done.stdout and " 0 already done" not in done.stdout
    assert (out / "rows.csv").read_bytes() == (ref / "rows.csv").read_bytes()


TINY_RECIPE = """
name: tiny-steppingnet
method: steppingnet
arch: lenet5
dataset: synthetic
width: 1.0
targets: [0.3, 0.85]
seed: 0
batch_size: 32
optimizer: {lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4}
schedule: cosine
teacher: {epochs: 1, lr: 0.05, batch_size: 32}
data: {train_limit: 128, test_limit: 64}
steppingnet: {iterations: 4, batches_per_iteration: 2, retrain_epochs: 1, eval_every: 2,
              eval_limit: 64}
"""


@pytest.mark.slow
def test_train_killed_resumes_to_the_same_model(tmp_path):
    """A smaller copy of recipes/smoke-steppingnet.yaml (synthetic data), killed once it
    has saved resumable state; the resumed model equals an uninterrupted run's."""
    torch = pytest.importorskip("torch")
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_RECIPE)
    ref, out = tmp_path / "ref", tmp_path / "out"
    finish("train", str(recipe), "--out", str(ref), "--no-progress", timeout=900)
    proc = spawn("train", str(recipe), "--out", str(out), "--no-progress")
    wait_for(lambda: (out / "state.pt").is_file(), proc, timeout=900)
    time.sleep(random.Random("train").uniform(0.0, 1.0))
    assert kill(proc), "training finished before it could be killed"
    assert not (out / "training.json").exists()
    finish("train", str(recipe), "--out", str(out), "--no-progress", timeout=900)
    a = torch.load(ref / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
