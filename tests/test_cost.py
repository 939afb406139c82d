"""MAC accounting (testbed.cost): the published totals, hand-computed stages, and a
brute-force count over random assignments and pruning masks."""

import itertools

import numpy as np
import pytest
import torch

from testbed.arch import LayerGeom
from testbed.cost import LayerCost, original_macs, stage_macs, subnet_macs
from testbed.nets import NestedNet


@pytest.mark.parametrize("arch,classes,macs", [
    ("lenet3c1l", 10, 10_570_944), ("lenet5", 10, 651_720), ("vgg16", 100, 313_247_744)])
def test_original_macs_match_published_totals(arch, classes, macs):
    assert original_macs(arch, classes, (3, 32, 32)) == macs
    assert NestedNet(arch, 1.0, classes, 1).subnet_macs() == [macs]


def test_hand_computed_two_layer_stages():
    # one conv (2 -> 3 units, 3x3 kernel on 5x5 -> 3x3 out) and a 3-input classifier
    g_conv = LayerGeom("c", "conv", 2, 3, 3, 0, (5, 5), (3, 3))
    g_cls = LayerGeom("classifier", "linear", 3, 2, in_per_unit=1, classifier=True, relu=False)
    out_steps = np.array([1, 2, 3])                       # units new in steps 1, 2, 3
    conv = LayerCost(g_conv, np.array([1, 1]), out_steps, None)
    cls = LayerCost(g_cls, out_steps, None, None)
    # conv: every unit reads both image channels: 2 inputs * 9 taps * 9 positions = 162
    # classifier: 2 classes per new input unit
    assert stage_macs([conv, cls], 3) == [162 + 2, 162 + 2, 162 + 2]
    keep = np.ones((3, 2, 3, 3), bool)
    keep[1, 0] = False                                    # prune one 3x3 synapse of unit 2
    conv_p = LayerCost(g_conv, np.array([1, 1]), out_steps, keep)
    assert stage_macs([conv_p, cls], 3) == [164, 164 - 81, 164]
    assert stage_macs([conv_p, cls], 3, dense=True) == [164, 164, 164]
    assert subnet_macs([conv_p, cls], 3) == [164, 247, 411]


def brute_force(net: NestedNet, k: int) -> int:
    total = 0
    for i, layer in enumerate(net.layers()):
        g = layer.geom
        s_in = net.in_steps(i).repeat_interleave(g.in_per_unit).tolist()
        keep = layer.keep.reshape(g.out_units, g.in_features, -1)
        for n, m in itertools.product(range(g.out_units), range(g.in_features)):
            if g.classifier:
                ok = s_in[m] <= k
            else:
                ok = layer.step[n] <= k and s_in[m] <= layer.step[n]
            if ok:
                total += int(keep[n, m].sum()) * g.macs_per_weight
    return total


@pytest.mark.parametrize("arch", ["lenet3c1l", "lenet5"])
def test_brute_force_random_assignment_and_pruning(arch):
    torch.manual_seed(0)
    net = NestedNet(arch, 0.4, 10, 3)
    net.set_steps([torch.randint(1, 5, l.step.shape) for l in net.hidden])
    for layer in net.layers():
        layer.keep.copy_(torch.rand(layer.keep.shape) < 0.7)
    sub = net.subnet_macs()
    assert sub == [brute_force(net, k) for k in (1, 2, 3)]
    assert sum(net.stage_macs()) == sub[-1]
    assert all(d >= s for d, s in zip(net.subnet_macs(dense=True), sub))
