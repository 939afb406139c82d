"""Rebuild a :class:`~.fold.FoldedNet` from a bundle's stage graphs, in canonical unit
order (by step), so that ``profile`` and the benchmark can build monolithic subnet
graphs from a bundle alone, without the checkpoint.

Stage k holds, per layer, ``<layer>.bias`` (one value per new unit) and, unless the
units have no inputs, ``<layer>.weight`` over the previous layer's units with step <= k;
the classifier's ``classifier.weight`` columns belong to the last layer's step-k units
and ``classifier.bias`` sits in stage 1. Geometry comes from ``testbed.layers``.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
from onnx import numpy_helper

from ..arch import LayerGeom
from ..errors import BundleError
from .fold import FoldedLayer, FoldedNet


def unfold_stages(models: list[onnx.ModelProto], label: str = "bundle") -> FoldedNet:
    props = {p.key: p.value for p in models[0].metadata_props}
    fmt = props.get("testbed.stage_format", "concat")
    if fmt != "concat":
        raise BundleError(f"{label}: stage 1 is in stage format {fmt!r}; only 'concat' stage "
                          f"graphs can be rebuilt into a network")
    try:
        geoms = [_geom(d) for d in json.loads(props["testbed.layers"])]
        input_shape = tuple(json.loads(props["testbed.input_shape"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{label}: stage 1 lacks readable testbed.layers metadata ({exc})") from None
    inits = [{t.name: numpy_helper.to_array(t) for t in m.graph.initializer} for m in models]
    hidden, in_steps = [], np.ones(input_shape[0], dtype=np.int64)
    for geom in geoms[:-1]:
        layer = _hidden(geom, inits, in_steps)
        hidden.append(layer)
        in_steps = layer.steps
    return FoldedNet(input_shape, len(models), tuple(hidden), _classifier(geoms[-1], inits, in_steps))


def _geom(d: dict) -> LayerGeom:
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return LayerGeom(in_units=0, out_units=0, **d)


def _hidden(geom: LayerGeom, inits: list[dict], in_steps: np.ndarray) -> FoldedLayer:
    name = geom.name
    counts = [len(st[f"{name}.bias"]) if f"{name}.bias" in st else 0 for st in inits]
    steps = np.repeat(np.arange(1, len(inits) + 1), counts).astype(np.int64)
    geom = replace(geom, in_units=len(in_steps), out_units=len(steps))
    weight = np.zeros(geom.weight_shape, dtype=np.float32)
    bias = np.zeros(len(steps), dtype=np.float32)
    start = 0
    for k, (st, n) in enumerate(zip(inits, counts), start=1):
        if n:
            bias[start:start + n] = st[f"{name}.bias"]
            w = st.get(f"{name}.weight")
            if w is not None:
                weight[start:start + n, :w.shape[1]] = w
        start += n
    return FoldedLayer(geom, weight, bias, steps)


def _classifier(geom: LayerGeom, inits: list[dict], in_steps: np.ndarray) -> FoldedLayer:
    bias = inits[0]["classifier.bias"]
    geom = replace(geom, in_units=len(in_steps), out_units=len(bias))
    weight = np.zeros(geom.weight_shape, dtype=np.float32)
    p = geom.in_per_unit
    for k, st in enumerate(inits, start=1):
        units = np.flatnonzero(in_steps == k)
        if units.size and "classifier.weight" in st:
            weight[:, units[0] * p:(units[-1] + 1) * p] = st["classifier.weight"]
    return FoldedLayer(geom, weight, bias, None)
