"""Nested-subnet networks: every architecture runs, subnets reuse each other's values
bit for bit, the synapse rule cannot be broken, BN statistics stay per subnet."""

import pytest
import torch

from testbed.checkpoint import load_checkpoint, save_checkpoint
from testbed.nets import NestedNet
from tests.invariants import assert_reuse_invariant


def random_net(arch="lenet3c1l", width=0.5, k=4, seed=0, classes=10):
    torch.manual_seed(seed)
    net = NestedNet(arch, width, classes, k)
    net.set_steps([torch.randint(1, k + 2, l.step.shape) for l in net.hidden])
    return net


@pytest.mark.parametrize("arch,classes,batch", [("lenet3c1l", 10, 4), ("lenet5", 10, 4),
                                                ("vgg16", 100, 2)])
def test_full_forward_of_every_architecture(arch, classes, batch):
    net = NestedNet(arch, 1.0, classes, 4)
    out = net(torch.randn(batch, 3, 32, 32))
    assert out.shape == (batch, classes) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", ["lenet3c1l", "lenet5"])
@pytest.mark.parametrize("train", [False, True])
def test_units_of_subnet_k_are_bit_identical_in_larger_subnets(arch, train):
    for seed in range(3):
        net = random_net(arch, seed=seed).train(train)
        assert_reuse_invariant(net, torch.randn(6, 3, 32, 32))


def test_logits_only_see_inputs_of_the_subnet():
    net = random_net().eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        all_logits = net.forward_all(x)
        for k in range(1, 5):
            torch.testing.assert_close(all_logits[k - 1], net(x, k), rtol=0, atol=1e-5)


def test_weights_that_break_the_synapse_rule_have_no_effect():
    net = random_net().eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = net(x, 2)
        for i, layer in enumerate(net.hidden):   # perturb only forbidden synapses
            forbidden = ~layer.synapse_mask(net.in_steps(i))
            if layer.geom.kind == "conv":
                forbidden = forbidden[:, :, None, None].expand_as(layer.weight)
            layer.weight[forbidden] += 100.0
        assert torch.equal(before, net(x, 2))


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_out_of_range_assignment_cannot_be_built(bad):
    net = NestedNet("lenet3c1l", 0.5, 10, 4)
    steps = net.steps()
    steps[1][0] = bad
    with pytest.raises(ValueError, match="1..5"):
        net.set_steps(steps)


def test_bn_statistics_move_only_for_units_of_the_trained_subnet():
    net = random_net().train()
    bn = net.hidden[0].bn
    before = bn.running_mean.clone()
    net(torch.randn(8, 3, 32, 32), 1)
    moved = bn.running_mean != before
    assert torch.equal(moved, net.hidden[0].step <= 1)


def test_pruned_weights_are_masked_and_revivable():
    net = random_net().eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        net.hidden[1].keep.zero_()
        assert not torch.equal(ref, net(x))
        net.hidden[1].keep.fill_(True)          # revive
        assert torch.equal(ref, net(x))


def test_checkpoint_round_trip(tmp_path):
    net = random_net().eval()
    net.hidden[0].keep[0, 0] = False
    save_checkpoint(tmp_path / "c.pt", net, {"method": "steppingnet"})
    loaded, meta = load_checkpoint(tmp_path / "c.pt")
    x = torch.randn(2, 3, 32, 32)
    assert meta == {"method": "steppingnet"}
    assert torch.equal(net(x, 3), loaded(x, 3))
    assert loaded.subnet_macs() == net.subnet_macs()
