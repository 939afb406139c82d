"""The compact subnet forward equals NestedNet's masked forward: values, gradients,
gate gradients and BatchNorm statistics."""

import pytest
import torch
import torch.nn.functional as F

from testbed.nets import NestedNet
from testbed.train import compact


def twin_nets(arch, seed=0):
    torch.manual_seed(seed)
    a = NestedNet(arch, 0.7, 10, 4)
    a.set_steps([torch.randint(1, 6, l.step.shape) for l in a.hidden])
    for layer in a.layers():
        layer.keep.copy_(torch.rand(layer.keep.shape) > 0.2)
    b = NestedNet(arch, 0.7, 10, 4)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("arch", ["lenet3c1l", "lenet5"])
def test_compact_forward_matches_masked_forward(arch):
    a, b = twin_nets(arch)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for k in range(1, 5):
        ga = [torch.ones(l.step.numel(), requires_grad=True) for l in a.hidden]
        gb = [torch.ones(l.step.numel(), requires_grad=True) for l in b.hidden]
        la, lb = a(x, k, gates=ga), compact.forward(b, x, k, gates=gb)
        torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
        F.cross_entropy(la, y).backward()
        F.cross_entropy(lb, y).backward()
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
        for p, q in zip(ga, gb):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
        for p, q in zip(a.buffers(), b.buffers()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        a.zero_grad()
        b.zero_grad()
    a.eval()
    b.eval()
    with torch.no_grad():
        for u, v in zip(a.forward_all(x), compact.forward_all(b, x)):
            torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)


def test_straight_through_lets_pruned_weights_learn():
    a, _ = twin_nets("lenet5")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    layer = a.hidden[0]
    F.cross_entropy(compact.forward(a, x, 4, straight_through=True), y).backward()
    pruned_active = (~layer.keep) & (layer.step <= 4).view(-1, 1, 1, 1)
    assert (layer.weight.grad[pruned_active] != 0).any()
    a.zero_grad()
    F.cross_entropy(compact.forward(a, x, 4), y).backward()
    assert (layer.weight.grad[~layer.keep] == 0).all()
