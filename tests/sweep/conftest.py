"""Fixtures for the sweep tests: a tiny base scenario over two toy bundles and a sweep
file of 2 deadlines x 2 seeds (4 points, 8 rows), simulated for 2 s each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.toybundle import make_toy_bundle

BASE = """
name: toy
seed: 1
duration_s: 2
platform: {peak_gmacs: 0.5, stage_overhead_ms: 0.2, pj_per_mac: 5.0, idle_w: 0.3}
budget:
  kind: contention
  base: 1.0
  bursts: [{rate_hz: 2, share: [0.4, 0.8], duration_ms: [50, 400]}]
workload:
  - {name: camera, kind: periodic, period_ms: 33.3, jitter_ms: 1.0, deadline_ms: 30, overrun: drop_old}
systems:
  - {name: stepping, model: models/step, policy: {name: deadline_aware}}
  - {name: slim, model: models/slim, policy: {name: pick_at_start}}
"""

SWEEP = """
name: toy-sweep
base: base.yaml
grid:
  workload.0.deadline_ms: [10, 30]
  seed: [1, 2]
"""


@pytest.fixture(scope="session")
def sweep_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    make_toy_bundle(root / "models" / "step", method="steppingnet")
    make_toy_bundle(root / "models" / "slim", method="slimmable", seed=1)
    (root / "base.yaml").write_text(BASE)
    (root / "sweep.yaml").write_text(SWEEP)
    return root


@pytest.fixture
def sweep_file(sweep_root) -> Path:
    return sweep_root / "sweep.yaml"


@pytest.fixture
def write_sweep(sweep_root):
    """write_sweep(text, name) -> a sweep file beside the base scenario."""
    def write(text: str, name: str = "other.yaml") -> Path:
        path = sweep_root / name
        path.write_text(text)
        return path
    return write
