"""Shared fixtures for the training tests: the smoke recipe and one checked reference run
of it (the construction tests inspect it, the resume tests compare against it)."""

from pathlib import Path

import pytest
import torch

import testbed.train.construction as construction
import testbed.train.steppingnet as steppingnet
from testbed.train.recipe import load_recipe
from testbed.train.runner import run_training

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "recipes" / "smoke-steppingnet.yaml"


def assert_nested(net):
    """Synapse rule on the effective weights, and bit-identical reuse across subnets."""
    for i, layer in enumerate(net.hidden):
        forbidden = ~layer.synapse_mask(net.in_steps(i))
        if layer.geom.kind == "conv":
            forbidden = forbidden[:, :, None, None].expand_as(layer.weight)
        assert (layer.effective_weight(net.in_steps(i))[forbidden] == 0).all()
    was, traces = net.training, []
    net.eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for k in range(1, net.num_steps + 1):
            traces.append([])
            net.features(x, k, trace=traces[-1])
    for k in range(net.num_steps):
        for i, layer in enumerate(net.hidden):
            mine = layer.step <= k + 1
            for bigger in range(k, net.num_steps):
                assert torch.equal(traces[k][i][:, mine], traces[bigger][i][:, mine])
    net.train(was)


@pytest.fixture(scope="session")
def smoke_reference(tmp_path_factory):
    """The smoke recipe run once, checking the synapse rule after every unit move.
    Returns (training.json dict, tmp folder with run/ and teachers/, check counters)."""
    checks = {"moves": 0, "saves": []}
    real_move, real_round = construction.move, steppingnet.construction_moves

    def checked_move(net, layer_ids, unit_ids, j):
        real_move(net, layer_ids, unit_ids, j)
        checks["moves"] += 1
        for i, u in zip(layer_ids, unit_ids):
            assert net.hidden[i].keep[u].all(), "pruned synapses of a moved unit are revived"
        assert_nested(net)

    def checked_round(net, *args):
        moved = real_round(net, *args)
        assert_nested(net)
        return moved

    mp = pytest.MonkeyPatch()
    mp.setattr(construction, "move", checked_move)
    mp.setattr(steppingnet, "construction_moves", checked_round)
    tmp = tmp_path_factory.mktemp("smoke")
    try:
        summary = run_training(load_recipe(SMOKE), None, tmp / "run", show_progress=False,
                               teacher_cache=tmp / "teachers", command="testbed train smoke",
                               hook=lambda state: checks["saves"].append(state["phase"]))
    finally:
        mp.undo()
    return summary, tmp, checks
