"""Any-width assignment: contiguous groups, lower-triangular connectivity, subnet MACs on
target (priced by the fast block sum and by testbed.cost alike), and the reuse invariant
of the foundation (units of subnet k are bit-identical in every larger subnet)."""

import numpy as np
import pytest
import torch

from tests.invariants import assert_reuse_invariant

from testbed.nets import NestedNet
from testbed.nets.anywidth import assign

CASES = [("lenet3c1l", 1.8, [0.10, 0.30, 0.50, 0.85], 10),
         ("lenet5", 2.0, [0.15, 0.30, 0.60, 0.85], 10)]


def anywidth_net(arch="lenet3c1l", width=1.8, targets=(0.1, 0.3, 0.5, 0.85), classes=10, seed=0):
    torch.manual_seed(seed)
    a = assign(arch, width, targets, classes)
    net = NestedNet(arch, width, classes, len(targets))
    net.set_steps(a.steps)
    return net, a


@pytest.mark.parametrize("arch,width,targets,classes", CASES)
def test_subnet_macs_hit_targets_within_two_points(arch, width, targets, classes):
    net, a = anywidth_net(arch, width, targets, classes)
    assert list(a.macs) == net.subnet_macs()
    for reached, t in zip(a.fractions_reached, targets):
        assert abs(reached - t) <= 0.02


@pytest.mark.parametrize("arch,width,targets,classes", CASES)
def test_every_group_has_a_unit_in_every_layer(arch, width, targets, classes):
    """Otherwise a group's units in earlier layers reach the classifier through nothing
    (LeNet-5's group 3 once got 3 conv1 filters, 2 conv2 filters, 1 fc1 unit and no fc2
    unit: its step changed no prediction)."""
    _, a = anywidth_net(arch, width, targets, classes)
    new = np.diff(np.vstack([np.zeros(len(a.counts[0]), int), np.array(a.counts)]), axis=0)
    assert (new >= 1).all(), new


def test_vgg16_targets_are_reached():
    a = assign("vgg16", 1.8, [0.2, 0.4, 0.5, 0.7], 100)
    assert np.allclose(a.fractions_reached, [0.2, 0.4, 0.5, 0.7], atol=0.02)


@pytest.mark.parametrize("arch,width,targets,classes", CASES)
def test_groups_are_contiguous_and_connectivity_lower_triangular(arch, width, targets, classes):
    net, _ = anywidth_net(arch, width, targets, classes)
    for i, layer in enumerate(net.hidden):
        s = layer.step.numpy()
        assert (np.diff(s) >= 0).all()                      # groups 1..K(+1) in order
        assert s[0] == 1
        mask = layer.synapse_mask(net.in_steps(i)).numpy()
        s_in = np.repeat(net.in_steps(i).numpy(), layer.geom.in_per_unit)
        for g in range(1, len(targets) + 1):                # group g reads groups <= g only
            rows = s == g
            assert mask[np.ix_(rows, s_in <= g)].all()
            assert not mask[np.ix_(rows, s_in > g)].any()


@pytest.mark.parametrize("train", [False, True])
def test_units_of_subnet_k_are_bit_identical_in_larger_subnets(train):
    net, _ = anywidth_net(width=0.9, targets=(0.05, 0.15, 0.3, 0.5))
    net.train(train)
    assert_reuse_invariant(net, torch.randn(6, 3, 32, 32))


def test_unreachable_target_uses_every_unit():
    a = assign("lenet3c1l", 0.5, [0.05, 0.9])
    assert a.fractions_reached[1] < 0.9
    assert all((s <= 2).all() for s in a.steps)
