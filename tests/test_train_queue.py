"""scripts/train_queue.sh: lanes of recipes, each run resumable; ``--carry`` puts runs and
their teacher in the tracked carry/ and teachers/ folders (runs spanning machines)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_queue.sh"

pytest.importorskip("torch")


def _queue(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def tree(tmp_path):
    if shutil.which("testbed") is None:
        pytest.fail("the testbed command is not on PATH (pip install -e .)")
    (tmp_path / "recipes").mkdir()
    shutil.copy(ROOT / "recipes" / "smoke-steppingnet.yaml", tmp_path / "recipes")
    return tmp_path


def test_carry_trains_into_the_tracked_folders_and_a_rerun_returns(tree):
    done = _queue(tree, "--carry", "smoke-steppingnet")
    assert done.returncode == 0, done.stderr
    assert (tree / "carry" / "smoke-steppingnet" / "model.pt").is_file()
    assert list((tree / "teachers").glob("*.pt")) and not (tree / "runs" / "teachers").exists()
    assert (tree / "runs" / "smoke-steppingnet.log").is_file()
    again = _queue(tree, "--carry", "smoke-steppingnet")
    assert again.returncode == 0 and "done smoke-steppingnet" in again.stderr


def test_unknown_recipes_and_options_are_one_line_and_exit_2(tree):
    for args in (["nope"], ["--fast", "smoke-steppingnet"], []):
        out = _queue(tree, *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, (args, out.stderr)
    assert not (tree / "carry").exists() and not (tree / "runs").exists()
