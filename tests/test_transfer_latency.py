"""scripts/transfer_latency.py: the host's calibrated model moved to a scenario's platform."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("transfer_latency",
                                                  ROOT / "scripts" / "transfer_latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_subnet_takes_its_dense_macs_at_the_scenario_peak(tmp_path):
    """autonomous_brake (peak 0.4 GMAC/s): static's subnet 4 (its only graph a step runs)
    must take its dense MACs / peak once scaled; the host's data terms are kept, its
    per-call terms dropped."""
    out = load().transfer(ROOT / "scenarios/autonomous_brake.yaml",
                          ROOT / "scenarios/platforms/host.yaml",
                          "models/lenet3c1l-cifar10-static")
    macs = json.loads((ROOT / "models/lenet3c1l-cifar10-static/manifest.json").read_text()
                      )["stages"][-1]["macs_dense"]
    static = out["step_ms"]["lenet3c1l-cifar10-static"]
    assert static[-1] == pytest.approx(macs / 0.4e6, rel=1e-3)
    assert static == sorted(static)                          # larger subnets cost more
    assert out["latency"]["padded"] is True and out["latency"]["scale"] > 1
    steps = out["step_ms"]["lenet3c1l-cifar10-steppingnet"]
    assert len(steps) == 4 and all(ms > 0 for ms in steps)


def test_a_bad_scenario_is_one_clear_error(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert load().main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "Traceback" not in err
