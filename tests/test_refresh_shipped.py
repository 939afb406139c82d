"""scripts/refresh_shipped.sh: what it refuses before it touches a shipped bundle (the
re-shipping itself is the long commands README lists; not run in tests)."""

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
