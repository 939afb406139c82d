"""Magnitude pruning during SteppingNet's construction (§III-A1, after [14]).

Re-evaluated every iteration on every weight layer: a weight is kept iff its magnitude
exceeds ``threshold`` times the standard deviation of its layer's weights. Pruning only
rewrites the ``keep`` masks: the weights stay, keep being updated (the construction trains
with a straight-through gradient, see :mod:`.compact`) and come back when they grow past
the threshold; pruned weights are not counted in ``macs`` (:mod:`testbed.cost`). When a
unit moves to the next subnet its pruned synapses are revived (:func:`revive`).

The threshold is relative because the paper's value is lost in our copy (§IV reads "set
to ."), and one absolute value cannot fit layers whose fan-in differs by 100x.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def magnitude_prune(net, threshold: float, relative: bool = True) -> None:
    """keep = |w| > threshold * std(w), per weight layer (threshold 0: prune nothing);
    ``relative=False``: keep = |w| > threshold (recipe ``prune_threshold_mode``)."""
    for layer in net.layers():
        if threshold <= 0:
            layer.keep.fill_(True)
            continue
        limit = threshold * (layer.weight.detach().float().std() if relative else 1.0)
        layer.keep.copy_(layer.weight.detach().abs() > limit)


@torch.no_grad()
def revive(net, layer_index: int, units: torch.Tensor) -> None:
    """Re-enable every synapse into and out of ``units`` of hidden layer ``layer_index``."""
    layers = net.layers()
    layers[layer_index].keep[units] = True
    nxt = layers[layer_index + 1]
    per = nxt.geom.in_per_unit
    cols = (units[:, None] * per + torch.arange(per, device=units.device)[None, :]).flatten()
    nxt.keep[:, cols] = True
