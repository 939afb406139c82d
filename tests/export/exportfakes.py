"""Builders for export tests (shared by tests/export): nested networks with random step assignments, pruning
masks and BatchNorm statistics (so that folding and re-indexing are really exercised),
checkpoint meta dicts on the synthetic dataset, and a stand-in non-incremental model
exposing ``subnets()`` and ``config()``."""

import numpy as np
import torch

from testbed.cost import original_macs
from testbed.nets import NestedNet

ARCHS = {"lenet3c1l": 0.5, "lenet5": 0.5, "vgg16": 0.125}
METHODS = ("steppingnet", "anywidth", "slimmable", "static")
LIMIT = 48          # test samples evaluated per export in tests


def randomize(net: NestedNet, seed: int, steps=None) -> NestedNet:
    g = torch.Generator().manual_seed(seed)
    k = net.num_steps
    steps = steps or [torch.randint(1, k + 2, l.step.shape, generator=g) for l in net.hidden]
    net.set_steps(steps)
    with torch.no_grad():
        for layer in net.layers():
            layer.keep.copy_(torch.rand(layer.keep.shape, generator=g) > 0.3)
            if layer.bn is not None:
                n = layer.geom.out_units
                layer.bn.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                layer.bn.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                layer.bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
                layer.bn.bias.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
    return net.eval()


def triangular(net: NestedNet) -> list:
    """Any-width assignment: unit n of a layer of U units joins at step ceil((n+1)K/U)."""
    k = net.num_steps
    return [torch.tensor([-(-(n + 1) * k // l.geom.out_units) for n in range(l.geom.out_units)])
            for l in net.hidden]


def nested(arch="lenet3c1l", width=None, k=4, seed=0, method="steppingnet") -> NestedNet:
    torch.manual_seed(seed)
    net = NestedNet(arch, width or ARCHS[arch], 10, k)
    return randomize(net, seed, triangular(net) if method == "anywidth" else None)


class StandIn:
    """A non-incremental model: independent one-step subnets of growing width."""

    def __init__(self, arch, widths=(0.25, 0.5), seed=0):
        self.arch, self.widths = arch, widths
        self.nets = [randomize(NestedNet(arch, w, 10, 1), seed + i) for i, w in enumerate(widths)]

    def subnets(self):
        return self.nets

    def config(self):
        return {"kind": "standin", "arch": self.arch, "widths": list(self.widths)}


def meta_for(arch, method):
    return {"method": method, "name": f"{arch}-{method}", "arch": arch, "dataset": "synthetic",
            "classes": [f"class{i}" for i in range(10)],
            "input": {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3},
            "original_macs": original_macs(arch, 10, (3, 32, 32)), "original_accuracy": 0.5,
            "training": {"recipe": "test", "seed": 0, "epochs": 0}, "test_accuracy": [0.1]}


def make_model(arch, method, seed=0):
    if method in ("slimmable", "static"):
        widths = (0.25, 0.5) if arch != "vgg16" else (0.0625, 0.125)
        return StandIn(arch, widths, seed)
    return nested(arch, seed=seed, method=method)


def reference_logits(model, x: np.ndarray) -> list[np.ndarray]:
    xt = torch.from_numpy(x)
    with torch.no_grad():
        if hasattr(model, "subnets"):
            return [n(xt).numpy() for n in model.subnets()]
        return [model(xt, k).numpy() for k in range(1, model.num_steps + 1)]


def reference_macs(model) -> tuple[list[int], bool]:
    """(MACs of subnets 1..K from testbed.cost, incremental?)"""
    if hasattr(model, "subnets"):
        return [n.subnet_macs()[0] for n in model.subnets()], False
    return model.subnet_macs(), True
