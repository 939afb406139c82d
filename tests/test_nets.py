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


def test_masked_batchnorm_is_the_textbook_formula_on_active_units():
    """The fused kernel (F.batch_norm on copies of the statistics) against BatchNorm written
    out: same output and gradients, running statistics moved (momentum, unbiased variance)
    for active units only."""
    from testbed.nets.nested import MaskedBatchNorm
    torch.manual_seed(3)
    bn = MaskedBatchNorm(6, momentum=0.2).train()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    active = torch.tensor([True, False, True, True, False, True])
    x = torch.randn(8, 6, 5, 5, requires_grad=True)
    y = bn(x, active)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
    ref = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + bn.eps) \
        * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    assert torch.allclose(y, ref, atol=1e-5)
    g, = torch.autograd.grad((y * torch.arange(6.0).view(1, -1, 1, 1)).sum(), x)
    g_ref, = torch.autograd.grad((ref * torch.arange(6.0).view(1, -1, 1, 1)).sum(), x)
    assert torch.allclose(g, g_ref, atol=1e-4)
    n = 8 * 5 * 5
    want_mean = torch.where(active, 0.8 * before_mean + 0.2 * mean.detach(), before_mean)
    want_var = torch.where(active, 0.8 * before_var + 0.2 * var.detach() * n / (n - 1), before_var)
    assert torch.allclose(bn.running_mean, want_mean, atol=1e-6)
    assert torch.allclose(bn.running_var, want_var, atol=1e-6)
    bn.eval()
    z = bn(x, active)
    assert torch.allclose(z, (x - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(
        bn.running_var.view(1, -1, 1, 1) + bn.eps) * bn.weight.view(1, -1, 1, 1)
        + bn.bias.view(1, -1, 1, 1), atol=1e-5)
