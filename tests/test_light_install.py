"""The light install (`pip install -e .`, no torch): simulation, reports, inspection,
profiling, traces and the layer table never import torch; `train` and `export` without
torch, and `sweep --executor dask` without Dask, end with one line naming the extra."""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from testbed.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "lenet5-cifar10-steppingnet"

# Runs each command in one fresh interpreter, then fails if torch was imported at all
# (a caught ImportError would hide a blocked import, so nothing is blocked here).
TORCH_FREE = """
import sys
import testbed.scenario, testbed.sim.engine, testbed.report.writers
from testbed.cli import main
for argv in {commands!r}:
    code = main(argv)
    assert code == 0, (argv, code)
    heavy = sorted(m for m in ("torch", "torchvision") if m in sys.modules)
    assert not heavy, (argv, heavy)
print("torch-free")
"""


def test_pyproject_keeps_torch_and_dask_in_extras():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(meta["dependencies"])
    extras = meta["optional-dependencies"]
    assert "torch" not in base and "dask" not in base and "distributed" not in base
    assert {"torch>=2.4", "torchvision>=0.19"} <= set(extras["train"])
    assert {"dask>=2024.1", "distributed>=2024.1"} <= set(extras["dask"])
    assert "testbed[train,dask]" in extras["dev"]
    for needed in ("simpy", "onnx", "onnxruntime", "numpy", "matplotlib", "pyyaml"):
        assert needed in base


def test_simulation_inspection_profiling_and_traces_import_no_torch(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)  # profile writes profile.json into the bundle
    record = tmp_path / "training.json"
    record.write_text(json.dumps({
        "method": "steppingnet", "name": "x", "arch": "lenet5", "dataset": "cifar10",
        "original_accuracy": 0.7, "samples_seen": 10,
        "subnets": [{"macs_pct": 20.0, "accuracy": 0.5}, {"macs_pct": 80.0, "accuracy": 0.69}]}))
    commands = [
        ["info", "lenet5"],
        ["inspect", str(bundle)],
        ["profile", str(bundle), "--warmup", "1", "--repeats", "2"],
        ["trace", str(ROOT / "scenarios" / "emergency_events.yaml"), "--out",
         str(tmp_path / "t.csv"), "--duration", "2"],
        ["run", str(ROOT / "scenarios" / "autonomous_brake.yaml"), "--duration", "1",
         "--out", str(tmp_path / "report")],
        ["compare-training", str(record), "--out", str(tmp_path / "cmp")],
    ]
    proc = subprocess.run([sys.executable, "-c", TORCH_FREE.format(commands=commands)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torch-free" in proc.stdout


def _without(monkeypatch, *modules):
    """Make ``import MODULE`` fail as it does where the package is not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("argv", [
    ["train", str(ROOT / "recipes" / "smoke-steppingnet.yaml"), "--no-progress"],
    ["export", "runs/x/model.pt", "--out", "models/x"],
])
def test_train_and_export_without_torch_name_the_extra(argv, monkeypatch, tmp_path, capsys):
    _without(monkeypatch, "torch", "torchvision")
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs torch" in err and "pip install -e '.[train]'" in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_train_without_torch_in_a_fresh_interpreter(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from testbed.cli import main\n"
            f"sys.exit(main(['train', {str(ROOT / 'recipes' / 'smoke-steppingnet.yaml')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("testbed train: error: training needs torch, which is not "
                                   "installed: pip install -e '.[train]'")


def test_reading_images_without_torch_names_the_extra(monkeypatch):
    from testbed.errors import DataError
    _without(monkeypatch, "torch")
    for name in [m for m in sys.modules if m.startswith("testbed.data")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(DataError, match=r"pip install -e '\.\[train\]'"):
        import testbed.data  # noqa: F401


def test_sweep_on_dask_without_dask_names_the_extra(monkeypatch, tmp_path, capsys):
    _without(monkeypatch, "distributed")
    sweep = ROOT / "scenarios" / "sweeps" / "brake_deadlines.yaml"
    assert main(["sweep", str(sweep), "--executor", "dask", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--executor dask needs distributed" in err
    assert "pip install -e '.[dask]'" in err and not (tmp_path / "s").exists()
