"""Live mode: real ONNX stages on real pixels agree with the eval record replay."""

import json

import numpy as np
import pytest

from testbed.bundle import EvalRecord, load_bundle, sha256_file, write_eval
from testbed.scenario import load_scenario
from testbed.sim.engine import simulate
from testbed.sim.live import LiveRunner, normalise
from tests.records import assert_records_agree
from tests.toybundle import make_toy_bundle

from .builders import scenario_dict

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from tests.linear_stages import CLASSES, SHAPE, linear_stage as stage_graph  # noqa: E402

N = 64


@pytest.fixture
def live_bundle(tmp_path):
    """A 2-stage incremental bundle of real ONNX graphs whose eval.npz is their output."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (N, *SHAPE), dtype=np.uint8)
    weights = [rng.normal(0, 0.1, (int(np.prod(SHAPE)), CLASSES)) for _ in range(2)]
    root = make_toy_bundle(tmp_path / "live", stage_macs=[1920, 1920], num_samples=N,
                           correct=np.zeros((N, 2), bool))
    manifest = json.loads((root / "manifest.json").read_text())
    for k, stage in enumerate(manifest["stages"]):
        (root / stage["file"]).write_bytes(stage_graph(weights[k], chained=k > 0))
        stage["sha256"] = sha256_file(root / stage["file"])
    (root / "manifest.json").write_text(json.dumps(manifest))
    flat = normalise(pixels, manifest["input"]).reshape(N, -1).astype(np.float64)
    logits = np.cumsum([flat @ w for w in weights], axis=0)
    pred = logits.argmax(axis=2).T
    z = np.exp(logits - logits.max(axis=2, keepdims=True))
    conf = (z.max(axis=2) / z.sum(axis=2)).T
    labels = np.where(rng.random(N) < 0.5, pred[:, 1], (pred[:, 1] + 1) % CLASSES)
    write_eval(root / "eval.npz", EvalRecord(labels, pred, conf.astype(np.float32),
                                             np.arange(N), "test"))
    return load_bundle(root, verify=True), pixels


def test_live_verdicts_match_the_replay(live_bundle):
    bundle, pixels = live_bundle
    runner = LiveRunner(images=lambda dataset, split: pixels, batch_size=16)
    outcomes, agreement = runner.outcomes(bundle, [5, 0, 63])
    assert agreement == 1.0
    rows = [5, 0, 63]
    assert [outcomes.correct[outcomes.row_of[s]] for s in rows] == \
        bundle.eval.correct[rows].tolist()


def test_live_simulation_equals_replay(live_bundle, tmp_path):
    bundle, pixels = live_bundle
    raw = scenario_dict([{"name": "lin", "model": str(bundle.path), "policy": "greedy"}],
                        budget={"kind": "constant", "budget": 0.001})
    (tmp_path / "s.yaml").write_text(json.dumps(raw))
    scenario = load_scenario(tmp_path / "s.yaml")
    live = simulate(scenario, live=LiveRunner(images=lambda dataset, split: pixels))
    assert live.live_agreement == {"lin": 1.0}
    assert_records_agree(live.records, simulate(scenario).records)
