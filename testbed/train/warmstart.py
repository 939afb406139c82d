"""Warm start of SteppingNet's construction: the original network inside the expanded one.

§III-A: "the smallest subnet is first initialized with the original neural network", the
network that is then expanded (§IV: 1.8x or 2x the units per layer). Recipe
``steppingnet.init: teacher`` (the ``faithful`` preset) does this literally: the first
``n_l`` units of every hidden layer of the expanded network take the trained width-1.0
network's weights, bias and BatchNorm parameters and statistics, and every weight from an
extra unit into a kept unit (or the classifier) is zero, so the expanded network computes
exactly the original network's function; the extra units' own incoming weights keep their
random initialisation, so they can learn and take over. No I/O.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def embed_teacher(net, teacher) -> None:
    """Copy ``teacher`` (a width-1.0 NestedNet of the same architecture) into the first
    units of ``net``'s layers and cut the extra units off from everything it computes."""
    if teacher.arch != net.arch or len(teacher.hidden) != len(net.hidden):
        raise ValueError(f"teacher {teacher.arch} does not match the expanded {net.arch}")
    for mine, theirs in zip(net.layers(), teacher.layers()):
        out_units, in_features = theirs.weight.shape[:2]
        rows = slice(None) if mine.geom.classifier else slice(0, out_units)
        mine.weight[rows, :in_features] = theirs.weight
        mine.weight[rows, in_features:] = 0.0      # extra input units feed no kept unit
        mine.bias[rows] = theirs.bias
        if mine.bn is not None:
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(mine.bn, name)[:out_units] = getattr(theirs.bn, name)
