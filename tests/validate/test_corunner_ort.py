"""The real pieces: the co-runner process and ONNX Runtime stages under dilation."""

import json
import time

import numpy as np
import pytest

from testbed import api
from testbed.bundle import sha256_file
from testbed.errors import TestbedError
from testbed.validate.corunner import CoRunner
from testbed.validate.mechanism import detect_fifo
from testbed.validate.validation import validate
from tests.toybundle import make_toy_bundle


def test_the_corunner_starts_and_stops_by_itself_or_says_why_not():
    core = sorted(__import__("os").sched_getaffinity(0))[-1]
    if not detect_fifo().allowed:
        with pytest.raises(TestbedError, match="co-runner"):
            CoRunner(core, [0.0], [1.0])
        return
    runner = CoRunner(core, [0.0], [1.0], period_s=0.001)  # full budget: it never spins
    t0 = time.monotonic() + 0.02
    runner.go(t0, t0 + 0.05)
    runner.stop(5.0)
    assert runner.proc.exitcode == 0


onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from tests.linear_stages import CLASSES, SHAPE, linear_stage  # noqa: E402


def linear_bundle(tmp_path):
    """A 2-stage incremental bundle of real linear ONNX stages and a 0.5 s scenario."""
    root = make_toy_bundle(tmp_path / "models" / "lin", stage_macs=[1920, 1920],
                           accuracies=(0.5, 0.7), num_samples=64)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["input"]["shape"] = list(SHAPE)
    rng = np.random.default_rng(0)
    for k, stage in enumerate(manifest["stages"]):
        (root / stage["file"]).write_bytes(
            linear_stage(rng.normal(0, 0.1, (int(np.prod(SHAPE)), CLASSES)), k > 0))
        stage["sha256"] = sha256_file(root / stage["file"])
    (root / "manifest.json").write_text(json.dumps(manifest))
    raw = {"name": "lin", "seed": 1, "duration_s": 0.5,
           "platform": {"peak_gmacs": 0.001, "stage_overhead_ms": 0.05},
           "budget": {"kind": "constant", "budget": 0.5},
           "workload": [{"name": "c", "kind": "periodic", "period_ms": 10, "deadline_ms": 8}],
           "cost_model": "macs",
           "systems": [{"name": "lin", "model": "models/lin", "policy": {"name": "greedy"}}]}
    return api.load(raw, base=tmp_path)


def test_real_onnx_stages_run_under_dilation(tmp_path):
    v = validate(linear_bundle(tmp_path), mechanism="dilation", core=None)
    run = v.runs[0]
    assert len(run.real) == len(run.sim) == 50
    assert {s.step for s in run.samples} == {1, 2}
    assert all(s.served_s > 0 for s in run.samples)
    assert all(abs(s.end_s - s.start_s - 2 * s.served_s) < 1e-9 for s in run.samples)
    speed = run.host_speed            # real ORT jobs timed alone against the cost model
    assert speed["job_ms"] > 0 and speed["model_ms"] > 0
    assert speed["before"] == pytest.approx(speed["job_ms"] / speed["model_ms"])
    assert speed["ratio"] == pytest.approx((speed["before"] * speed["after"]) ** 0.5)
    assert len(run.scaled) == len(run.sim)   # and simulated at that speed
    assert v.figures()[run.name]["repeats"][0]["host_speed"] == speed["ratio"]


def test_real_images_feed_the_stages_and_both_sides_use_their_verdicts(tmp_path):
    from testbed.sim.live import LiveRunner
    scenario = linear_bundle(tmp_path)
    pixels = np.random.default_rng(1).integers(0, 256, (64, *SHAPE), dtype=np.uint8)
    seen = []
    live = LiveRunner(images=lambda dataset, split: seen.append(split) or pixels)
    v = validate(scenario, mechanism="dilation", core=None, live=live)
    run = v.runs[0]
    assert seen == ["test"] and len(run.real) == 50
    truth = live.outcomes(scenario.systems[0].bundle, list(range(64)))[0]
    for r in run.real:
        assert r.correct == (r.result_stage > 0 and
                             truth.correct[truth.row_of[r.sample_id]][r.result_stage - 1])
