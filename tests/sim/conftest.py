"""Fixtures for the simulator tests: toy bundles of every method and a scenario writer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `from tests.toybundle import ...` under plain `pytest` too
    sys.path.insert(0, str(ROOT))

from tests.toybundle import make_toy_bundle  # noqa: E402

from .builders import scenario_dict  # noqa: E402

METHODS = ("steppingnet", "anywidth", "slimmable", "static")


@pytest.fixture(scope="session")
def toy_bundles(tmp_path_factory) -> dict[str, Path]:
    """One toy bundle per method (4 stages, 200 samples), shared by the session."""
    root = tmp_path_factory.mktemp("bundles")
    return {m: make_toy_bundle(root / f"toy-{m}", method=m, seed=i) for i, m in enumerate(METHODS)}


@pytest.fixture
def write_scenario(tmp_path):
    """write_scenario(dict) -> path of a YAML file in a fresh folder."""
    def write(raw: dict, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path
    return write


@pytest.fixture
def make_scenario(write_scenario, toy_bundles):
    """make_scenario([(name, method, policy), ...], **top_level_keys) -> loaded Scenario."""
    from testbed.scenario import load_scenario

    def make(systems, **top):
        entries = [{"name": n, "model": str(toy_bundles[m]), "policy": p} for n, m, p in systems]
        return load_scenario(write_scenario(scenario_dict(entries, **top)))
    return make
