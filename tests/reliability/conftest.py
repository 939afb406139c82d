"""Fixtures for the reliability tests: a folder of toy bundles, scenarios and traces to
mutate, and one real exported bundle (runnable ONNX stages) to corrupt."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.toybundle import make_toy_bundle  # noqa: E402

FAULTS = {
    "stalls": [{"at_s": [0.2], "duration_ms": 50}, {"rate_hz": 1.0, "duration_ms": [20, 80]}],
    "dropouts": {"rate_hz": 1.0, "duration_ms": [30, 90], "job_class": "camera"},
    "bursts": {"at_s": [0.3], "duration_ms": 60, "period_ms": 8},
    "stage_failures": {"probability": 0.05, "stages": [2, 3]},
    "budget_signal": {"noise": 0.2, "bias": -0.1, "delay_ms": 20, "step_ms": 50},
}


def base_scenario(budget: dict | None = None, faults: bool = True) -> dict:
    """A valid scenario over ``models/step`` and ``models/slim`` (relative paths), with
    every kind of fault, two job classes and a budget-watching policy."""
    raw = {
        "name": "fuzz", "description": "Fuzzing base.", "seed": 1, "duration_s": 0.5,
        "platform": {"peak_gmacs": 0.5, "stage_overhead_ms": 0.1, "pj_per_mac": 5.0,
                     "idle_w": 0.1},
        "budget": budget or {"kind": "contention", "base": 1.0, "bursts": [
            {"rate_hz": 4, "share": [0.4, 0.8], "duration_ms": [20, 100]}]},
        "workload": [
            {"name": "camera", "kind": "periodic", "period_ms": 33.3, "jitter_ms": 1.0,
             "deadline_ms": 30, "overrun": "drop_old"},
            {"name": "alarm", "kind": "sporadic", "rate_hz": 2, "deadline_ms": 10,
             "priority": 1}],
        "cost_model": "macs",
        "systems": [
            {"name": "step", "model": "models/step", "policy": {"name": "deadline_aware"}},
            {"name": "slim", "model": "models/slim",
             "policy": {"name": "pick_at_start", "restart": True}}],
    }
    if faults:
        raw["faults"] = copy.deepcopy(FAULTS)
    return raw


TRACE_CSV = "time_s,budget\n0.0,1.0\n0.05,0.35\n0.12,0.8\n0.2,0.0\n0.23,1.0\n0.3,1.0\n"


@pytest.fixture(scope="session")
def arena(tmp_path_factory) -> Path:
    """A folder with ``models/step``, ``models/slim``, ``trace.csv``, ``base.yaml``
    (contention budget) and ``base_trace.yaml`` (budget from ``trace.csv``, repeating)."""
    root = tmp_path_factory.mktemp("arena")
    make_toy_bundle(root / "models" / "step", method="steppingnet")
    make_toy_bundle(root / "models" / "slim", method="slimmable", seed=1)
    (root / "trace.csv").write_text(TRACE_CSV)
    (root / "base.yaml").write_text(yaml.safe_dump(base_scenario(), sort_keys=False))
    trace_budget = {"kind": "trace", "file": "trace.csv", "after": "repeat"}
    (root / "base_trace.yaml").write_text(
        yaml.safe_dump(base_scenario(trace_budget), sort_keys=False))
    return root


@pytest.fixture(scope="session")
def real_bundle(tmp_path_factory) -> Path:
    """A small exported steppingnet bundle (LeNet, random weights, 16 eval samples)."""
    sys.path.insert(0, str(ROOT / "tests" / "export"))
    from exportfakes import make_model, meta_for

    from testbed.export.writer import export_model
    out = tmp_path_factory.mktemp("real") / "lenet"
    export_model(make_model("lenet3c1l", "steppingnet"), meta_for("lenet3c1l", "steppingnet"),
                 out, limit=16, threads=1)
    return out
