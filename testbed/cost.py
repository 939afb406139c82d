"""MAC accounting, defined once (DESIGN §2) and used by training, export, manifests and
tests.

A non-zero conv weight element costs H_out*W_out MACs (so a kh x kw synapse costs
kh*kw*H_out*W_out), a linear weight element costs 1. Every weight belongs to exactly one
*stage*: a hidden-layer weight to the step of its output unit, a classifier weight to the
step of its input unit (the classifier is additive). Subnet k's MACs are the sum of stages
1..k, so stage and subnet figures agree by construction. ``macs`` counts weights that are
allowed by the synapse rule and not pruned; ``macs_dense`` counts every weight the dense,
re-indexed stage graph executes (allowed by the synapse rule, pruned or not).

Pure numpy: callers hand in arrays (the torch networks convert their buffers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arch import LayerGeom, geometry


@dataclass(frozen=True)
class LayerCost:
    """What MAC counting needs of one weight layer."""
    geom: LayerGeom
    in_steps: np.ndarray       # [in_units] step of each input unit (image channels: 1)
    out_steps: np.ndarray      # [out_units] step of each output unit (classifier: 0)
    keep: np.ndarray | None    # pruning mask, weight-shaped bool (None: nothing pruned)


def weight_stage(layer: LayerCost) -> np.ndarray:
    """Stage of every weight element (weight-shaped int); 0 = forbidden by the synapse rule."""
    g = layer.geom
    s_in = np.repeat(np.asarray(layer.in_steps, dtype=np.int64), g.in_per_unit)
    if g.classifier:
        stage = np.broadcast_to(s_in[None, :], (g.out_units, g.in_features))
    else:
        s_out = np.asarray(layer.out_steps, dtype=np.int64)
        stage = np.where(s_in[None, :] <= s_out[:, None], s_out[:, None], 0)
    if g.kind == "conv":
        stage = np.broadcast_to(stage[:, :, None, None], g.weight_shape)
    return stage


def stage_macs(layers: list[LayerCost], num_steps: int, dense: bool = False) -> list[int]:
    """MACs of stages 1..K: the units new in step k plus the classifier columns they add."""
    total = np.zeros(num_steps + 2, dtype=np.int64)
    for layer in layers:
        stage = weight_stage(layer)
        if not dense and layer.keep is not None:
            stage = np.where(np.asarray(layer.keep, dtype=bool), stage, 0)
        counts = np.bincount(stage.ravel(), minlength=num_steps + 2)[: num_steps + 2]
        total += counts * layer.geom.macs_per_weight
    return [int(v) for v in total[1: num_steps + 1]]


def subnet_macs(layers: list[LayerCost], num_steps: int, dense: bool = False) -> list[int]:
    """MACs of subnets 1..K (cumulative stage MACs)."""
    return [int(v) for v in np.cumsum(stage_macs(layers, num_steps, dense))]


def layer_dense_macs(g: LayerGeom) -> int:
    return int(np.prod(g.weight_shape)) * g.macs_per_weight


def dense_macs(layers: list[LayerGeom]) -> int:
    """MACs of a plain dense network (every weight present)."""
    return sum(layer_dense_macs(g) for g in layers)


def original_macs(arch: str, classes: int, input_shape: tuple[int, int, int]) -> int:
    """The reference: the un-expanded (width 1.0), unpruned original network."""
    return dense_macs(geometry(arch, 1.0, classes, input_shape))
