"""Neuron importance for SteppingNet's construction (§III-A2, eqs. 1-3).

During construction every hidden unit n gets a gate alpha[k][n] per subnet k, fixed to 1
in the forward pass (it multiplies the unit's normalised pre-activation, eq. 1); the
gradient of subnet k's loss with respect to it (eq. 2) says how much subnet k needs the
unit. :class:`Importance` accumulates |dL_k/dalpha[k][n]| over the batches of one
iteration; :func:`selection_scores` combines the subnets a unit belongs to (eq. 3). The
construction (:mod:`.construction`) moves the lowest-scoring units.
"""

from __future__ import annotations

import torch


def new_gates(net) -> list[torch.Tensor]:
    """One all-ones gate vector per hidden layer, ready to receive eq. (2)'s gradient."""
    return [torch.ones(layer.step.numel(), device=layer.step.device, requires_grad=True)
            for layer in net.hidden]


class Importance:
    """Accumulated |dL_k / dalpha[k][n]| for subnets k = 1..K and every hidden layer."""

    def __init__(self, net, normalization: str = "none"):
        self.normalization = normalization     # "none" | "mean" | "rank" | "per_mac", see selection_scores
        self.acc = [[torch.zeros(layer.step.numel(), dtype=torch.float64, device=layer.step.device)
                     for layer in net.hidden] for _ in range(net.num_steps)]

    def add(self, k: int, gates: list[torch.Tensor]) -> None:
        """Add the gate gradients of one backward pass of subnet k's loss."""
        for acc, gate in zip(self.acc[k - 1], gates):
            if gate.grad is not None:
                acc += gate.grad.detach().abs().to(acc.dtype)

    def of(self, k: int) -> list[torch.Tensor]:
        return self.acc[k - 1]


def selection_scores(importance: Importance, j: int, growth: float) -> list[torch.Tensor]:
    """Eq. (3): score of each unit for subnet j = sum over k = j..K of growth^(k-j) *
    importance to subnet k (larger subnets weigh more: a unit that stays in subnet j
    also serves every larger subnet).

    Our addition, recipe ``steppingnet.score_normalization``: raw gate gradients are not
    comparable across layers (their scale depends on a layer's width and position);
    ranked globally ("none", the paper's wording) they made the LeNet-5 construction keep
    227 fc1 units on 2 conv2 filters in subnet 1. "mean" divides each layer's scores by
    the layer's mean; "rank" (applied by :class:`.construction.Candidates`, within the
    stage's own units of each layer) replaces them by their percentile, so every layer
    sheds about the same fraction of its units and importance only picks which ones;
    "per_mac" (also applied by :class:`.construction.Candidates`) divides each unit's
    score by the MACs it costs the subnet, so a coarse unit (a LeNet-5 conv1 filter is 9%
    of the MACs) is judged by what it buys per MAC (issue 19, cost-aware allocation)."""
    num_steps = len(importance.acc)
    scores = [torch.zeros_like(a) for a in importance.of(j)]
    for k in range(j, num_steps + 1):
        for s, a in zip(scores, importance.of(k)):
            s += growth ** (k - j) * a
    if importance.normalization == "mean":
        scores = [s / s.mean() if s.mean() > 0 else s for s in scores]
    return scores
