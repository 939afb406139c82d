"""Nested-subnet layers and networks (DESIGN §2): the model that SteppingNet, any-width
and static training share, and that export turns into stage graphs.

Each hidden unit carries its step ``step[n]`` in 1..K+1 (a buffer; K+1 = in no subnet).
The synapse rule is a connectivity mask *derived* from the steps of a layer's inputs and
outputs on every forward, never stored; a revivable per-weight pruning mask (``keep``)
sits on top. ``forward(x, k)`` runs subnet k: units of later steps are zeroed, and since no
unit reads a unit of a later step, every unit of subnet k computes the same value in every
larger subnet. ``forward_all(x)`` computes all K logits from one pass over the features
(the classifier is additive). Model files do no I/O.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..cost import LayerCost, stage_macs, subnet_macs
from ..arch import LayerGeom, geometry


class MaskedBatchNorm(nn.Module):
    """Per-unit BatchNorm whose running statistics move only for units of the subnet being
    run: units outside it see zeroed inputs, which must not pollute their statistics."""

    def __init__(self, units: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(units))
        self.bias = nn.Parameter(torch.zeros(units))
        self.register_buffer("running_mean", torch.zeros(units))
        self.register_buffer("running_var", torch.ones(units))

    def forward(self, x: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                self.bias, False, 0.0, self.eps)
        # one fused kernel; it moves copies of the running statistics (momentum, unbiased
        # variance), of which only the active units' entries are kept
        mean, var = self.running_mean.clone(), self.running_var.clone()
        y = F.batch_norm(x, mean, var, self.weight, self.bias, True, self.momentum, self.eps)
        with torch.no_grad():
            self.running_mean.copy_(torch.where(active, mean, self.running_mean))
            self.running_var.copy_(torch.where(active, var, self.running_var))
        return y


class NestedLayer(nn.Module):
    """A conv or linear weight layer whose output units carry step assignments."""

    def __init__(self, geom: LayerGeom, num_steps: int):
        super().__init__()
        self.geom, self.num_steps = geom, num_steps
        self.weight = nn.Parameter(torch.empty(geom.weight_shape))
        self.bias = nn.Parameter(torch.zeros(geom.out_units))
        fan_in = geom.in_units * geom.kernel * geom.kernel if geom.kind == "conv" else geom.in_features
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        nn.init.uniform_(self.bias, -fan_in ** -0.5, fan_in ** -0.5)
        self.register_buffer("step", torch.ones(geom.out_units, dtype=torch.long))
        self.register_buffer("keep", torch.ones(geom.weight_shape, dtype=torch.bool))
        self.bn = MaskedBatchNorm(geom.out_units) if geom.bn else None

    def synapse_mask(self, in_steps: torch.Tensor) -> torch.Tensor:
        """[out, in_features] bool: the synapse rule s_in[m] <= s_out[n] (classifier: all)."""
        s_in = in_steps.repeat_interleave(self.geom.in_per_unit)
        if self.geom.classifier:
            return torch.ones(self.geom.out_units, s_in.numel(), dtype=torch.bool,
                              device=s_in.device)
        return s_in[None, :] <= self.step[:, None]

    def effective_weight(self, in_steps: torch.Tensor) -> torch.Tensor:
        mask = self.synapse_mask(in_steps)
        if self.geom.kind == "conv":
            mask = mask[:, :, None, None]
        return self.weight * (mask & self.keep)

    def linear_map(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.geom.kind == "conv":
            return F.conv2d(x, weight, self.bias, padding=self.geom.padding)
        return F.linear(x.flatten(1), weight, self.bias)


class NestedNet(nn.Module):
    """A network of nested subnets 1..K over one set of weights (see module docstring)."""

    kind = "nested"

    def __init__(self, arch: str, width: float = 1.0, classes: int = 10, num_steps: int = 4,
                 input_shape: tuple[int, int, int] = (3, 32, 32)):
        super().__init__()
        self.arch, self.width, self.classes = arch, float(width), int(classes)
        self.num_steps, self.input_shape = int(num_steps), tuple(input_shape)
        geoms = geometry(arch, width, classes, self.input_shape)
        self.hidden = nn.ModuleList(NestedLayer(g, num_steps) for g in geoms[:-1])
        self.classifier = NestedLayer(geoms[-1], num_steps)

    # -- configuration -----------------------------------------------------------------
    def config(self) -> dict:
        return {"kind": self.kind, "arch": self.arch, "width": self.width,
                "classes": self.classes, "num_steps": self.num_steps,
                "input_shape": list(self.input_shape)}

    def in_steps(self, i: int) -> torch.Tensor:
        """Steps of the input units of weight layer i (hidden layers, then classifier)."""
        if i == 0:
            return torch.ones(self.input_shape[0], dtype=torch.long, device=self.classifier.step.device)
        return self.hidden[i - 1].step

    def layers(self) -> list[NestedLayer]:
        return list(self.hidden) + [self.classifier]

    def set_steps(self, steps: list) -> None:
        """Assign every hidden unit a step in 1..K+1 (one list/tensor per hidden layer)."""
        if len(steps) != len(self.hidden):
            raise ValueError(f"expected {len(self.hidden)} step vectors, got {len(steps)}")
        for layer, s in zip(self.hidden, steps):
            s = torch.as_tensor(s, dtype=torch.long, device=layer.step.device)
            if s.shape != layer.step.shape:
                raise ValueError(f"{layer.geom.name}: expected {tuple(layer.step.shape)} steps, "
                                 f"got {tuple(s.shape)}")
            if s.numel() and (s.min() < 1 or s.max() > self.num_steps + 1):
                raise ValueError(f"{layer.geom.name}: steps must lie in 1..{self.num_steps + 1}")
            layer.step.copy_(s)

    def steps(self) -> list[torch.Tensor]:
        return [layer.step.clone() for layer in self.hidden]

    # -- forward -----------------------------------------------------------------------
    def features(self, x: torch.Tensor, k: int | None = None, gates: list | None = None,
                 trace: list | None = None) -> torch.Tensor:
        """Hidden activations of subnet k (default K): units of later steps are zero.
        ``gates[i]`` (one value per unit, 1 in value) multiplies layer i's normalised
        pre-activation: its gradient is the importance of eq. (2). ``trace`` collects
        every hidden layer's output (before pooling)."""
        k = self.num_steps if k is None else k
        for i, layer in enumerate(self.hidden):
            active = layer.step <= k
            x = layer.linear_map(x, layer.effective_weight(self.in_steps(i)))
            if layer.bn is not None:
                x = layer.bn(x, active)
            if gates is not None:
                x = x * _per_unit(gates[i], x)
            x = F.relu(x) * _per_unit(active.to(x.dtype), x)
            if trace is not None:
                trace.append(x)
            if layer.geom.pool:
                x = F.max_pool2d(x, layer.geom.pool)
        return x

    def logits(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """Additive classifier: bias + columns of the inputs in subnet k."""
        c = self.classifier
        cols = self.in_steps(len(self.hidden)).repeat_interleave(c.geom.in_per_unit) <= k
        return F.linear(h.flatten(1), c.weight * (cols[None, :] & c.keep), c.bias)

    def forward(self, x: torch.Tensor, k: int | None = None, gates: list | None = None) -> torch.Tensor:
        k = self.num_steps if k is None else k
        return self.logits(self.features(x, k, gates), k)

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of subnets 1..K from one pass: subnet K's features hold every unit's
        value, and logits of subnet k add the classifier columns of steps <= k."""
        h = self.features(x).flatten(1)
        c = self.classifier
        s_in = self.in_steps(len(self.hidden)).repeat_interleave(c.geom.in_per_unit)
        out, acc = [], c.bias.expand(h.shape[0], -1)
        for j in range(1, self.num_steps + 1):
            cols = (s_in == j)[None, :] & c.keep
            acc = acc + F.linear(h, c.weight * cols)
            out.append(acc)
        return out

    # -- cost --------------------------------------------------------------------------
    def cost_layers(self) -> list[LayerCost]:
        out = []
        for i, layer in enumerate(self.layers()):
            out_steps = layer.step.cpu().numpy() if not layer.geom.classifier else None
            out.append(LayerCost(layer.geom, self.in_steps(i).cpu().numpy(),
                                 out_steps, layer.keep.cpu().numpy()))
        return out

    def stage_macs(self, dense: bool = False) -> list[int]:
        return stage_macs(self.cost_layers(), self.num_steps, dense)

    def subnet_macs(self, dense: bool = False) -> list[int]:
        return subnet_macs(self.cost_layers(), self.num_steps, dense)


def _per_unit(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view((1, -1) + (1,) * (like.dim() - 2))
