"""Every shipped sweep file (scenarios/sweeps/*.yaml) validates: each grid point's
overrides apply to its base scenario, and a point runs (with toy bundles standing in for
the trained models, which the repository does not ship)."""

from pathlib import Path

import pytest
import yaml

from testbed.scenario import load_scenario
from testbed.sweep.point import run_point
from testbed.sweep.spec import Point, load_sweep
from tests.toybundle import make_toy_bundle

SWEEPS = sorted((Path(__file__).resolve().parents[2] / "scenarios" / "sweeps").glob("*.yaml"))
METHODS = ("steppingnet", "anywidth", "slimmable", "static")


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {m: make_toy_bundle(root / m, method=m, seed=i) for i, m in enumerate(METHODS)}


def test_there_is_a_shipped_sweep():
    assert SWEEPS


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_shipped_sweeps_validate_and_run_with_toy_bundles(path, toy_models):
    spec = load_sweep(path)
    raw = yaml.safe_load(spec.base.read_text())
    models = {f"systems.{i}.model": str(toy_models[s["name"]]) for i, s in enumerate(raw["systems"])}
    if raw.get("cost_model") == "latency":  # toy stage files are not ONNX graphs to count
        models["cost_model"] = "macs"
    points = spec.points()
    assert len(points) >= 2 and len({p.key for p in points}) == len(points)
    for p in points:
        load_scenario(spec.base, overrides={**p.params, **models}, duration_s=spec.duration_s)
    rows = run_point(str(spec.base), Point(0, {**points[0].params, **models}), 1.0)
    names = [s["name"] for s in raw["systems"]]
    bounds = [f"{n}@{b}" for b in raw.get("bounds", []) for n in names]
    assert [r["system"] for r in rows] == names + bounds
