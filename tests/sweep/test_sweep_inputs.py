"""The sweep's input fingerprint covers the files a scenario names indirectly: a platform
file (relative to the scenario), the latency samples it names (relative to the platform
file, unless the scenario names its own), a budget trace CSV and a task set's execution
samples. Editing any of them invalidates the cached points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from testbed.sweep.runner import inputs_fingerprint, validate
from testbed.sweep.spec import load_sweep

LATENCY = {"gmacs": 0.05, "launch_ms": 0.5, "node_us": 100.0, "gbps": 0.2}


def scenario(model: Path, platform: dict, budget: dict | None = None) -> dict:
    return {
        "name": "fp", "seed": 1, "duration_s": 1, "platform": platform,
        "budget": budget or {"kind": "constant", "budget": 1.0},
        "workload": [{"name": "camera", "kind": "periodic", "period_ms": 33.3,
                      "deadline_ms": 30, "overrun": "drop_old"}],
        "systems": [{"name": "stepping", "model": str(model),
                     "policy": {"name": "deadline_aware"}}],
    }


@pytest.fixture
def root(tmp_path, sweep_root) -> Path:
    """A scenario with ``platform: {file: platforms/host.yaml}`` whose latency samples
    are ``platforms/host_samples.json``, and a one-point sweep over it."""
    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "host_samples.json").write_text(json.dumps(
        {"pooled": [0.9, 1.0, 1.2], "bundles": {}}))
    (tmp_path / "platforms" / "host.yaml").write_text(yaml.safe_dump(
        {"peak_gmacs": 0.5, "monitor_ms": 1.0,
         "latency": {**LATENCY, "variability": {"dist": "empirical",
                                                "file": "host_samples.json"}}}))
    write_base(tmp_path, scenario(sweep_root / "models" / "step",
                                  {"file": "platforms/host.yaml"}))
    (tmp_path / "sweep.yaml").write_text("base: base.yaml\ngrid: {seed: [1]}\n")
    return tmp_path


def write_base(root: Path, raw: dict) -> None:
    (root / "base.yaml").write_text(yaml.safe_dump(raw))


def fingerprint(root: Path) -> str:
    spec = load_sweep(root / "sweep.yaml")
    return inputs_fingerprint(spec, None, validate(spec, None))


def test_the_platform_file_and_its_samples_are_inputs(root):
    files = validate(load_sweep(root / "sweep.yaml"), None)
    assert {root / "platforms" / "host.yaml",
            root / "platforms" / "host_samples.json"} <= files


def test_editing_the_platform_file_changes_the_fingerprint(root):
    before = fingerprint(root)
    assert fingerprint(root) == before                   # same inputs: same fingerprint
    host = root / "platforms" / "host.yaml"
    host.write_text(host.read_text().replace("peak_gmacs: 0.5", "peak_gmacs: 0.6"))
    assert fingerprint(root) != before


def test_editing_the_latency_samples_changes_the_fingerprint(root):
    before = fingerprint(root)
    (root / "platforms" / "host_samples.json").write_text(json.dumps(
        {"pooled": [0.8, 1.0, 1.5], "bundles": {}}))
    assert fingerprint(root) != before


def test_samples_named_by_the_scenario_are_relative_to_the_scenario(root, sweep_root):
    (root / "mine.json").write_text(json.dumps({"pooled": [1.0], "bundles": {}}))
    write_base(root, scenario(sweep_root / "models" / "step", {
        "file": "platforms/host.yaml",
        "latency": {"variability": {"dist": "empirical", "file": "mine.json"}}}))
    files = validate(load_sweep(root / "sweep.yaml"), None)
    assert root / "mine.json" in files and root / "platforms" / "mine.json" not in files
    before = fingerprint(root)
    (root / "mine.json").write_text(json.dumps({"pooled": [1.1], "bundles": {}}))
    assert fingerprint(root) != before


def test_budget_trace_and_task_samples_are_inputs(root, sweep_root):
    (root / "trace.csv").write_text("time_s,budget\n0,1.0\n0.5,0.5\n")
    write_base(root, scenario(sweep_root / "models" / "step", {"peak_gmacs": 0.5},
                              {"kind": "trace", "file": "trace.csv"}))
    before = fingerprint(root)
    (root / "trace.csv").write_text("time_s,budget\n0,1.0\n0.5,0.4\n")
    assert fingerprint(root) != before

    (root / "times.csv").write_text("execution_ms\n4.0\n6.0\n")
    task = {"name": "planning", "kind": "periodic", "period_ms": 100, "priority": 2,
            "execution_ms": {"dist": "samples", "file": "times.csv"}}
    write_base(root, scenario(sweep_root / "models" / "step", {"peak_gmacs": 0.5},
                              {"kind": "tasks", "tasks": [task]}))
    before = fingerprint(root)
    (root / "times.csv").write_text("execution_ms\n4.0\n7.0\n")
    assert fingerprint(root) != before
