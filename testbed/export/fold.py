"""BatchNorm folding: a NestedNet (torch) becomes plain numpy layers that the stage
graph builder reads. Export's first step after loading a checkpoint.

Every weight layer keeps its geometry, its *effective* weight (weights forbidden by the
synapse rule or pruned are exact zeros), a bias, and the step of each output unit. An
eval-mode BatchNorm is folded into the preceding conv/linear with its running
statistics; the arithmetic is done in float64 and rounded once to float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch import LayerGeom


@dataclass(frozen=True)
class FoldedLayer:
    geom: LayerGeom
    weight: np.ndarray            # float32, geom.weight_shape, BN folded
    bias: np.ndarray              # float32, [out_units]
    steps: np.ndarray | None      # int64 step of every output unit; None for the classifier


@dataclass(frozen=True)
class FoldedNet:
    input_shape: tuple[int, int, int]
    num_steps: int
    hidden: tuple[FoldedLayer, ...]
    classifier: FoldedLayer

    @property
    def classes(self) -> int:
        return self.classifier.geom.out_units

    def in_steps(self, i: int) -> np.ndarray:
        """Steps of the input units of hidden layer ``i`` (or of the classifier, i = L)."""
        if i == 0:
            return np.ones(self.input_shape[0], dtype=np.int64)
        return self.hidden[i - 1].steps


def fold_bn(weight: np.ndarray, bias: np.ndarray, bn) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BatchNorm (running statistics) into weight and bias (float64)."""
    gamma, beta = _np(bn.weight), _np(bn.bias)
    scale = gamma / np.sqrt(_np(bn.running_var) + bn.eps)
    weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    return weight, (bias - _np(bn.running_mean)) * scale + beta


def fold_net(net) -> FoldedNet:
    """Fold a :class:`testbed.nets.NestedNet` (any mode; BN uses running stats)."""
    layers = []
    for i, layer in enumerate(net.layers()):
        weight = _np(layer.effective_weight(net.in_steps(i)))
        bias = _np(layer.bias)
        if layer.bn is not None:
            weight, bias = fold_bn(weight, bias, layer.bn)
        steps = None if layer.geom.classifier else layer.step.detach().cpu().numpy().astype(np.int64)
        layers.append(FoldedLayer(layer.geom, weight.astype(np.float32), bias.astype(np.float32), steps))
    return FoldedNet(tuple(net.input_shape), int(net.num_steps), tuple(layers[:-1]), layers[-1])


def subnet_view(net: FoldedNet, k: int) -> FoldedNet:
    """Subnet k as a one-step network: units of steps <= k become step 1, the rest step 2.
    Weights stay as they are (forbidden synapses are already zero), so stage 1 of the
    view computes subnet k directly: the monolithic graph."""
    hidden = tuple(FoldedLayer(l.geom, l.weight, l.bias, np.where(l.steps <= k, 1, 2))
                   for l in net.hidden)
    return FoldedNet(net.input_shape, 1, hidden, net.classifier)


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()
