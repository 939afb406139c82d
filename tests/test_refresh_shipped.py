"""scripts/refresh_shipped.sh: what it refuses before it touches a shipped bundle, and
which training records a re-shipped bundle replaces (the export, profile and reports
themselves are the long commands README lists; a stand-in `testbed` takes their place)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "refresh_shipped.sh"


def _refresh(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def _tree(tmp_path: Path) -> Path:
    """A shipped bundle and its training record that a refused call must leave alone."""
    (tmp_path / "models" / "lenet3c1l-cifar10-static").mkdir(parents=True)
    (tmp_path / "models" / "lenet3c1l-cifar10-static" / "manifest.json").write_text("{}")
    (tmp_path / "reports" / "training").mkdir(parents=True)
    (tmp_path / "reports" / "training" / "long-lenet3c1l-static.json").write_text("{}")
    return tmp_path


def test_a_missing_run_is_named_under_the_runs_folder_and_nothing_changes(tmp_path):
    tree = _tree(tmp_path)
    (tree / "carry" / "xl-lenet3c1l-steppingnet").mkdir(parents=True)
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    out = _refresh(tree, "--runs", "carry", "--prefix", "xl", "lenet3c1l", "steppingnet", "static")
    assert out.returncode == 2
    assert out.stderr.strip() == ("refresh_shipped.sh: carry/xl-lenet3c1l-steppingnet/model.pt: "
                                  "no finished run")
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before
    default = _refresh(tree, "--prefix", "long", "lenet3c1l", "static")
    assert default.returncode == 2 and "runs/long-lenet3c1l-static/model.pt" in default.stderr


def test_bad_options_are_one_line_and_exit_2(tmp_path):
    tree = _tree(tmp_path)
    for args in (["--fast"], ["--runs"], ["lenet3c1l"]):
        out = _refresh(tree, *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, (args, out.stderr)


def test_a_reshipped_bundle_replaces_its_records_variants_included(tmp_path):
    """Each re-shipped bundle leaves exactly one training record: the run's, under the new
    prefix; the old family's and a variant's (``-per_mac``) records go, other bundles' stay.
    `testbed` is a stand-in on PATH that logs its calls (export and profile are the long
    commands README lists)."""
    tree = _tree(tmp_path)
    training = tree / "reports" / "training"
    for name in ("long-lenet3c1l-steppingnet-per_mac", "cpu-lenet3c1l-steppingnet",
                 "long-lenet5-steppingnet"):
        (training / f"{name}.json").write_text("{}")
    run = tree / "carry" / "xl-lenet3c1l-steppingnet"
    run.mkdir(parents=True)
    (run / "model.pt").write_text("")
    (run / "training.json").write_text('{"run": "xl"}')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "testbed").write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n')
    (bin_dir / "testbed").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "TESTBED_DATA": "/data"}
    out = subprocess.run(["bash", str(SCRIPT), "--runs", "carry", "--prefix", "xl",
                          "--no-reports", "lenet3c1l", "steppingnet"],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in training.iterdir()) == [
        "long-lenet3c1l-static.json", "long-lenet5-steppingnet.json",
        "xl-lenet3c1l-steppingnet.json"]
    assert (training / "xl-lenet3c1l-steppingnet.json").read_text() == '{"run": "xl"}'
    assert log.read_text().splitlines() == [
        "export carry/xl-lenet3c1l-steppingnet/model.pt --out models/lenet3c1l-cifar10-steppingnet"
        " --data-root /data",
        "profile models/lenet3c1l-cifar10-steppingnet",
        "compare-training " + " ".join(f"reports/training/{n}" for n in (
            "long-lenet3c1l-static.json", "long-lenet5-steppingnet.json",
            "xl-lenet3c1l-steppingnet.json")) + " --out reports/training"]
