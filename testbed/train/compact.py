"""A compact forward pass for training NestedNets on small hardware.

:meth:`NestedNet.forward` runs the whole expanded network and masks; here subnet k runs
on only its own units (weights gathered by ``index_select``, so gradients still land in
the full parameters), which costs in proportion to the subnet's size. Values, gradients
and BatchNorm running statistics match ``NestedNet.forward(x, k, gates)`` up to float
rounding (tests check it). Optionally pruned weights pass their gradient straight
through (dynamic pruning during construction: a pruned weight is absent from the
forward pass but keeps being updated, so it can come back). Used by every method that
trains a NestedNet; no I/O.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _cols(idx: torch.Tensor | None, per: int, total: int, device) -> torch.Tensor:
    """Input-feature columns of the input units ``idx`` (None: all) of a layer."""
    if idx is None:
        return torch.arange(total, device=device)
    if per == 1:
        return idx
    return (idx[:, None] * per + torch.arange(per, device=idx.device)[None, :]).flatten()


def _weight(layer, in_steps: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor,
            straight_through: bool) -> torch.Tensor:
    """The layer's effective weight restricted to output units ``rows`` and input
    features ``cols``: synapse rule and pruning mask applied."""
    w, keep = layer.weight, layer.keep
    if rows is not None:
        w, keep = w.index_select(0, rows), keep.index_select(0, rows)
    w, keep = w.index_select(1, cols), keep.index_select(1, cols)
    s_in = in_steps.repeat_interleave(layer.geom.in_per_unit).index_select(0, cols)
    if not layer.geom.classifier:
        rule = s_in[None, :] <= layer.step.index_select(0, rows)[:, None]
        w = w * (rule[:, :, None, None] if w.dim() == 4 else rule)
    if straight_through:
        return w - (w * ~keep).detach()
    return w * keep


def _batchnorm(bn, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """MaskedBatchNorm on units ``idx`` only (same kernel, same running statistics):
    ``F.batch_norm`` updates gathered copies of the statistics, scattered back."""
    mean, var = bn.running_mean[idx], bn.running_var[idx]
    y = F.batch_norm(x, mean, var, bn.weight[idx], bn.bias[idx], bn.training, bn.momentum,
                     bn.eps)
    if bn.training:
        with torch.no_grad():
            bn.running_mean.index_copy_(0, idx, mean)
            bn.running_var.index_copy_(0, idx, var)
    return y


def features(net, x: torch.Tensor, k: int, gates: list | None = None,
             straight_through: bool = False,
             watch=None, watch_pre=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hidden features of subnet k on its own units; returns (features, their unit ids).
    ``watch(i, rows, out)``, if given, sees layer i's post-ReLU output (before pooling),
    ``watch_pre`` the same call with its input to the ReLU."""
    idx = None
    for i, layer in enumerate(net.hidden):
        rows = torch.nonzero(layer.step <= k).flatten()
        cols = _cols(idx, layer.geom.in_per_unit, layer.geom.in_features, x.device)
        w = _weight(layer, net.in_steps(i), rows, cols, straight_through)
        b = layer.bias.index_select(0, rows)
        x = F.conv2d(x, w, b, padding=layer.geom.padding) if layer.geom.kind == "conv" \
            else F.linear(x.flatten(1), w, b)
        if layer.bn is not None:
            x = _batchnorm(layer.bn, x, rows)
        if gates is not None:
            x = x * gates[i].index_select(0, rows).view((1, -1) + (1,) * (x.dim() - 2))
        if watch_pre is not None:
            watch_pre(i, rows, x)
        x = F.relu(x)
        if watch is not None:
            watch(i, rows, x)
        if layer.geom.pool:
            x = F.max_pool2d(x, layer.geom.pool)
        idx = rows
    return x, idx


def _has_empty_layer(net, k: int) -> bool:
    """A subnet with an empty hidden layer (only in degenerate assignments) is left to
    the masked forward, which handles zero-width layers."""
    return any(not bool((layer.step <= k).any()) for layer in net.hidden)


def forward(net, x: torch.Tensor, k: int | None = None, gates: list | None = None,
            straight_through: bool = False) -> torch.Tensor:
    """Logits of subnet k (default K), like ``net(x, k, gates)`` but on its units only."""
    k = net.num_steps if k is None else k
    if _has_empty_layer(net, k):
        return net(x, k, gates)
    h, idx = features(net, x, k, gates, straight_through)
    c = net.classifier
    cols = _cols(idx, c.geom.in_per_unit, c.geom.in_features, x.device)
    w = _weight(c, net.in_steps(len(net.hidden)), None, cols, straight_through)
    return F.linear(h.flatten(1), w, c.bias)


def forward_all(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Logits of subnets 1..K from one pass over subnet K's units (additive classifier)."""
    if _has_empty_layer(net, net.num_steps):
        return net.forward_all(x)
    h, idx = features(net, x, net.num_steps)
    c = net.classifier
    cols = _cols(idx, c.geom.in_per_unit, c.geom.in_features, x.device)
    w = _weight(c, net.in_steps(len(net.hidden)), None, cols, False)
    s_in = net.in_steps(len(net.hidden)).repeat_interleave(c.geom.in_per_unit).index_select(0, cols)
    h = h.flatten(1)
    out, acc = [], c.bias.expand(h.shape[0], -1)
    for j in range(1, net.num_steps + 1):
        acc = acc + F.linear(h, w * (s_in == j)[None, :])
        out.append(acc)
    return out
