"""SteppingNet construction on the smoke recipe: MAC targets reached, the synapse rule
and nested reuse hold after every move, moved units get their pruned synapses back; the
run writes the checkpoint and training record the exporter and reports read."""

import json

from tests.train.conftest import assert_nested
from testbed.checkpoint import load_checkpoint


def test_construction_reaches_the_mac_targets(smoke_reference):
    summary, _, checks = smoke_reference
    assert checks["moves"] > 4
    for s in summary["subnets"]:
        assert abs(s["macs_pct"] - s["target_pct"]) <= 2.0, s
    assert summary["targets_reached"]


def test_checkpoint_meta_and_training_record(smoke_reference):
    summary, tmp, _ = smoke_reference
    model, meta = load_checkpoint(tmp / "run" / "model.pt")
    assert model.subnet_macs() == meta["subnet_macs"] == [s["macs"] for s in summary["subnets"]]
    assert model.subnet_macs(dense=True) == [s["macs_dense"] for s in summary["subnets"]]
    assert meta["name"] == "lenet5-synthetic-steppingnet" and meta["method"] == "steppingnet"
    assert meta["input"] == {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}
    assert len(meta["classes"]) == 10 and len(meta["test_accuracy"]) == 4
    t = meta["training"]
    assert t["samples_seen"] == 4 * (6 * 2 + 6 * 1) * 32 and t["teacher_samples_seen"] == 192
    assert t["command"] == "testbed train smoke" and t["iterations"] == 6
    on_disk = json.loads((tmp / "run" / "training.json").read_text())
    assert on_disk["recipe"]["steppingnet"]["iterations"] == 6
    assert on_disk["ablations"] == {"lr_suppression": True, "distillation": True, "width": 2.0}
    assert not (tmp / "run" / "state.pt").exists()
    assert_nested(model)
