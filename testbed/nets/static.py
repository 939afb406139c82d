"""Static models, the "offline table of models" SteppingNet is contrasted with: K
independent networks, one per MAC target, each a one-step
:class:`~testbed.nets.nested.NestedNet` holding the units :mod:`testbed.nets.widths`
solved for that target. Nothing is shared, so the set exports as K independent graphs
(non-incremental) through :meth:`StaticSet.subnets`. Model file: no I/O.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from . import MODEL_KINDS
from .nested import NestedNet
from .slimmable import WidthFamily, single_step_net
from .widths import uniform_units


@MODEL_KINDS.register("static")
class StaticSet(WidthFamily):
    """K independent networks; ``forward(x, k)`` runs the k-th."""

    kind = "static"

    def __init__(self, arch: str, widths: list, classes: int = 10,
                 input_shape: tuple[int, int, int] = (3, 32, 32), units: list | None = None):
        super().__init__()
        self._family(arch, widths, classes, input_shape)
        if units is None:
            units = [uniform_units(arch, w, classes, self.input_shape) for w in self.widths]
        if len(units) != len(self.widths):
            raise ValueError(f"expected {len(self.widths)} unit lists, got {len(units)}")
        self.units = [[int(c) for c in u] for u in units]
        self.nets = nn.ModuleList(single_step_net(arch, w, u, classes, self.input_shape)
                                  for w, u in zip(self.widths, self.units))

    def forward(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = self.check_k(k)
        return self.nets[k - 1](x, 1)

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [net(x, 1) for net in self.nets]

    def subnet_macs(self, dense: bool = False) -> list[int]:
        """Own MACs of each model (not cumulative)."""
        return [net.subnet_macs(dense)[0] for net in self.nets]

    def subnets(self) -> list[NestedNet]:
        """Copies of the K networks in eval mode."""
        return [copy.deepcopy(net).eval() for net in self.nets]
