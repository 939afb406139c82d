"""Dead units in SteppingNet's construction (our addition, recipe ``steppingnet.revive_dead``).

A hidden unit whose ReLU output is 0 on every image gets no gradient, so training never
brings it back, and its eq. (2) gate gradient is exactly 0, so the construction
(:mod:`.construction`) ranks it last: dead units sink to the last stage, whose MACs they
fill without changing a prediction. Found on LeNet-5 with ``score_normalization:
per_mac`` (issue 19): 22 of stage 4's 36 fc1 units dead at the end of a reduced-schedule
run, whose subnet 4 then gained nothing over subnet 3 (the record's ``stage_health``).

Why they die so easily here: LeNet-5 has no BatchNorm, and a fully connected unit after a
ReLU sees non-negative, strongly correlated inputs, so whether it fires depends mostly on
the sign of its weights' sum; many such units are silent on every image from
initialisation on, and fresh random weights alone would leave many dead again: hence the
bias set from a batch.

With the switch on, after each construction round every unit that belongs to a subnet and
whose gate gradient was exactly 0 in every subnet over the round is re-initialised: fresh
incoming weights (the layer's own initialisation), pruned synapses in and out revived,
momentum cleared, and its bias set from a batch so that it fires on half the images (its
pre-activation's median, at each image's strongest position, moved to 0); with BatchNorm
instead the scale 1, shift 0 and fresh running statistics (normalised outputs are centred
already). Its outgoing weights are kept (what the next layer has learned to expect from
it). Next round's importance then says whether it earns its place.
"""

from __future__ import annotations

import math

import torch

from . import compact
from .importance import Importance
from .prune import revive


def dead_units(net, importance: Importance) -> list[torch.Tensor]:
    """Per hidden layer, the indices of units in some subnet (step 1..K) whose gate
    gradient summed over all subnets is exactly 0 for the round."""
    out = []
    for i, layer in enumerate(net.hidden):
        total = sum(importance.of(k)[i] for k in range(1, net.num_steps + 1))
        in_subnet = (layer.step >= 1) & (layer.step <= net.num_steps)
        out.append(((total == 0) & in_subnet).nonzero().flatten())
    return out


@torch.no_grad()
def reinitialise(net, opt: torch.optim.Optimizer, layer_index: int, units: torch.Tensor,
                 generator: torch.Generator) -> None:
    """Fresh incoming weights (kaiming-uniform as :class:`~testbed.nets.nested.NestedLayer`
    initialises them) for ``units`` of hidden layer ``layer_index``; see the module
    docstring for the rest."""
    if not len(units):
        return
    layer = net.hidden[layer_index]
    fan_in = layer.weight[0].numel()
    bound = math.sqrt(6.0 / ((1 + 5) * fan_in))   # kaiming_uniform_ with a = sqrt(5)
    rows = layer.weight[units]
    fresh = torch.rand(rows.shape, generator=generator, device="cpu") * 2 - 1
    layer.weight[units] = (fresh * bound).to(rows.device, rows.dtype)
    layer.bias[units] = 0.0
    params = [layer.weight, layer.bias]
    if layer.bn is not None:
        layer.bn.weight[units], layer.bn.bias[units] = 1.0, 0.0
        layer.bn.running_mean[units], layer.bn.running_var[units] = 0.0, 1.0
        params += [layer.bn.weight, layer.bn.bias]
    for p in params:
        buf = opt.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            buf[units] = 0.0
    revive(net, layer_index, units)


@torch.no_grad()
def centre_bias(net, layer_index: int, units: torch.Tensor, x: torch.Tensor) -> None:
    """Shift the biases of ``units`` (of a layer without BatchNorm) so that each fires on
    half of the images of ``x`` when the largest subnet runs (eval mode)."""
    layer, seen = net.hidden[layer_index], {}

    def watch_pre(i, rows, z):
        if i == layer_index:
            seen["rows"], seen["z"] = rows, z

    was = net.training
    net.eval()
    compact.features(net, x, net.num_steps, watch_pre=watch_pre)
    net.train(was)
    where = {int(r): j for j, r in enumerate(seen["rows"].tolist())}
    cols = torch.tensor([where[int(u)] for u in units], device=x.device)
    z = seen["z"].index_select(1, cols)
    if z.dim() > 2:                               # conv: each image's strongest position
        z = z.flatten(2).amax(2)                  # [images, units]
    layer.bias[units] -= z.median(0).values.to(layer.bias.dtype)


def revive_dead(net, opt: torch.optim.Optimizer, importance: Importance,
                generator: torch.Generator, x: torch.Tensor) -> list[int]:
    """Re-initialise every dead unit (:func:`dead_units`), layer by layer, each layer's
    biases set on the batch ``x`` after the layers before it; returns how many per layer."""
    found = dead_units(net, importance)
    for i, units in enumerate(found):
        if len(units):
            reinitialise(net, opt, i, units, generator)
            if net.hidden[i].bn is None:
                centre_bias(net, i, units, x)
    return [len(u) for u in found]
