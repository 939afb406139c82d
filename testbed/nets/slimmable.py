"""Slimmable network (Yu et al., ICLR 2019), a baseline for SteppingNet: one weight set
sized for the widest of K widths; width k runs the leading units of every hidden layer
(by default ``scaled(units, w_k)``, i.e. ``NestedNet(arch, w_k)``'s geometry; per-layer
counts from :mod:`testbed.nets.widths` make the MACs match the targets) with a private
BatchNorm per width (switchable BN). A unit's inputs change with the width, so subnets
are not incremental: :meth:`SlimmableNet.subnets` hands export K independent one-step
:class:`~testbed.nets.nested.NestedNet` copies. Model file: no I/O.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import LayerGeom
from ..cost import dense_macs
from . import MODEL_KINDS
from .nested import MaskedBatchNorm, NestedLayer, NestedNet
from .widths import counted_geometry, cover_width, uniform_units


class SlimLayer(nn.Module):
    """A weight layer sized for the widest geometry; width k uses the leading slice."""

    def __init__(self, widest: LayerGeom, per_width: list[LayerGeom]):
        super().__init__()
        self.geom, self.per_width = widest, per_width
        init = NestedLayer(widest, 1)                    # same initialisation as NestedNet
        self.weight, self.bias = init.weight, init.bias
        self.bn = nn.ModuleList(MaskedBatchNorm(g.out_units) for g in per_width) if widest.bn else None

    def sliced(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of width k (k = 1..K)."""
        g = self.per_width[k - 1]
        w = self.weight[: g.out_units, : g.in_features]
        return w, self.bias[: g.out_units]

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        w, b = self.sliced(k)
        g = self.per_width[k - 1]
        x = F.conv2d(x, w, b, padding=g.padding) if g.kind == "conv" else F.linear(x.flatten(1), w, b)
        if self.bn is not None:
            bn = self.bn[k - 1]
            x = bn(x, torch.ones(g.out_units, dtype=torch.bool, device=x.device))
        return x


class WidthFamily(nn.Module):
    """What slimmable and static models share: K subnets of ``arch`` picked by index
    k = 1..K, one per solved width, described by ``config()`` as (widths, units)."""

    kind = ""

    def _family(self, arch: str, widths: list, classes: int, input_shape) -> None:
        self.arch, self.classes, self.input_shape = arch, int(classes), tuple(input_shape)
        self.widths = [float(w) for w in widths]

    @property
    def num_steps(self) -> int:
        return len(self.widths)

    def config(self) -> dict:
        return {"kind": self.kind, "arch": self.arch, "widths": list(self.widths),
                "classes": self.classes, "input_shape": list(self.input_shape),
                "units": [list(u) for u in self.units]}

    def check_k(self, k: int | None) -> int:
        k = self.num_steps if k is None else k
        if not 1 <= k <= self.num_steps:
            raise ValueError(f"subnet index must lie in 1..{self.num_steps}, got {k}")
        return k


@MODEL_KINDS.register("slimmable")
class SlimmableNet(WidthFamily):
    """K widths of ``arch`` over one set of weights, switchable BN (see module docstring).
    ``widths`` are the nominal multipliers; ``units`` (K lists, one count per hidden
    layer, as :func:`testbed.nets.widths.solve` returns) override the uniform counts."""

    kind = "slimmable"

    def __init__(self, arch: str, widths: list, classes: int = 10,
                 input_shape: tuple[int, int, int] = (3, 32, 32), units: list | None = None):
        super().__init__()
        self._family(arch, widths, classes, input_shape)
        self.units = _unit_table(arch, self.widths, units, self.classes, self.input_shape)
        per_width = [counted_geometry(arch, u, classes, self.input_shape) for u in self.units]
        widest = counted_geometry(arch, [max(c) for c in zip(*self.units)], classes,
                                  self.input_shape)
        self.blocks = nn.ModuleList(SlimLayer(g, [geoms[i] for geoms in per_width])
                                     for i, g in enumerate(widest))

    def forward(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = self.check_k(k)
        for layer in self.blocks[:-1]:
            x = F.relu(layer(x, k))
            if layer.geom.pool:
                x = F.max_pool2d(x, layer.geom.pool)
        return self.blocks[-1](x, k)

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every width (K independent passes: nothing is shared)."""
        return [self(x, k) for k in range(1, self.num_steps + 1)]

    def subnet_macs(self, dense: bool = False) -> list[int]:
        """Own MACs of each width (not cumulative: no width reuses another's work)."""
        return [dense_macs([l.per_width[k] for l in self.blocks]) for k in range(self.num_steps)]

    def bn_layers(self, k: int) -> list[MaskedBatchNorm]:
        """The private BatchNorms of width k."""
        return [l.bn[k - 1] for l in self.blocks if l.bn is not None]

    @torch.no_grad()
    def subnets(self) -> list[NestedNet]:
        """K independent one-step NestedNets (eval mode) equal to ``forward(x, k)``."""
        return [self._subnet(k) for k in range(1, self.num_steps + 1)]

    def _subnet(self, k: int) -> NestedNet:
        net = single_step_net(self.arch, self.widths[k - 1], self.units[k - 1], self.classes,
                              self.input_shape)
        net.to(self.blocks[0].weight.device)
        for mine, theirs in zip(self.blocks, net.layers()):
            w, b = mine.sliced(k)
            theirs.weight.zero_()
            theirs.weight[tuple(slice(0, n) for n in w.shape)] = w
            theirs.bias.zero_()
            theirs.bias[: b.numel()] = b
            if mine.bn is not None:
                _copy_bn(mine.bn[k - 1], theirs.bn)
        return net.eval()


def single_step_net(arch: str, width: float, units, classes: int,
                    input_shape: tuple[int, int, int]) -> NestedNet:
    """A one-step NestedNet holding ``units`` per hidden layer: at ``width`` when that is
    its uniform geometry, else at the smallest covering width with the surplus units
    marked unused (step 2), so MACs and export see exactly ``units``."""
    units = [int(u) for u in units]
    if units != uniform_units(arch, width, classes, input_shape):
        width = cover_width(arch, units, classes, input_shape)
    net = NestedNet(arch, width, classes, 1, input_shape)
    net.set_steps([(torch.arange(l.geom.out_units) >= u).long() + 1
                   for l, u in zip(net.hidden, units)])
    return net


@torch.no_grad()
def _copy_bn(src: MaskedBatchNorm, dst: MaskedBatchNorm) -> None:
    n = src.weight.numel()
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name)[:n] = getattr(src, name)


def _unit_table(arch, widths, units, classes, input_shape) -> list[list[int]]:
    if not widths or min(widths) <= 0:
        raise ValueError(f"widths must be positive, got {widths}")
    if units is None:
        return [uniform_units(arch, w, classes, input_shape) for w in widths]
    if len(units) != len(widths):
        raise ValueError(f"expected {len(widths)} unit lists, got {len(units)}")
    return [[int(c) for c in u] for u in units]
