"""Stage graphs: a :class:`~.fold.FoldedNet` becomes ONNX graphs, one per step (DESIGN §3).

Stage k computes only the units new in step k (``step == k``). Each layer's new units
read the previous layer's units with step <= k in canonical order (old ones from
``state_in.<layer>``, then the ones new in this stage; the image for the first layer),
through a dense weight re-indexed to exactly those rows and columns: it never executes a
MAC of an earlier unit. The classifier adds the columns of the last layer's new units to
``logits_in`` (stage 1 adds the bias). :func:`build_monolithic` builds subnet k as one
plain graph from the same weights (stage 1 of the subnet seen as a one-step network).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import onnx

from .fold import FoldedLayer, FoldedNet, subnet_view
from .graph import BATCH, GraphBuilder
from .plan import StatePlan, canonical_order, new_units, plan_states


def build_stages(net: FoldedNet, metadata: list[dict] | None = None) -> list[onnx.ModelProto]:
    """All K stage graphs; ``metadata[k-1]`` is added to stage k's metadata_props."""
    plan = plan_states([l.steps for l in net.hidden], net.num_steps)
    return [build_stage(net, k, plan, (metadata or [{}] * net.num_steps)[k - 1])
            for k in range(1, net.num_steps + 1)]


def build_monolithic(net: FoldedNet, k: int, metadata: dict | None = None) -> onnx.ModelProto:
    """Subnet k as a single graph: ``image`` in, ``logits`` out, no state plumbing."""
    view = subnet_view(net, k)
    plan = plan_states([l.steps for l in view.hidden], 1)
    return build_stage(view, 1, plan, {"testbed.subnet": k, **(metadata or {})},
                       graph_name=f"subnet_{k}")


def build_stage(net: FoldedNet, k: int, plan: StatePlan, metadata: dict,
                graph_name: str | None = None) -> onnx.ModelProto:
    g = GraphBuilder()
    image = g.input("image", [BATCH, *net.input_shape])
    inputs: list[str] = [image]          # tensors holding the previous layer's units, in order
    for i, layer in enumerate(net.hidden):
        if i > 0:
            inputs = _carry(g, net, i - 1, k, plan, inputs)
        inputs = _hidden_new(g, net, i, k, inputs)
    logits = _classifier(g, net, k, inputs[-1])
    g.output(logits, [BATCH, net.classes])
    g.inputs.sort(key=lambda v: {"image": 0, "logits_in": 1}.get(v.name, 2))   # stable: layer order
    g.outputs.sort(key=lambda v: v.name != "logits")
    meta = {"testbed.layers": layer_table(net), "testbed.input_shape": json.dumps(list(net.input_shape)),
            **metadata}
    return g.model(graph_name or f"stage_{k}", meta)


def _hidden_new(g: GraphBuilder, net: FoldedNet, i: int, k: int, inputs: list[str]) -> list[str]:
    """Compute layer i's new units; returns [old-state tensor?, new tensor?] of layer i."""
    layer = net.hidden[i]
    rows = new_units(layer.steps, k)
    if rows.size == 0:
        return [None]
    x = _concat(g, inputs)
    cols = _columns(layer, canonical_order(net.in_steps(i), k))
    y = _linear_map(g, layer, x, rows, cols, net.input_shape)
    if layer.geom.relu:
        y = g.op("Relu", [y])
    if layer.geom.pool:
        p = layer.geom.pool
        y = g.op("MaxPool", [y], kernel_shape=[p, p], strides=[p, p])
    return [y]


def _carry(g: GraphBuilder, net: FoldedNet, i: int, k: int, plan: StatePlan,
           new: list[str]) -> list[str]:
    """Layer i's units with step <= k as the list [state_in?, new?]; emits state.<layer>."""
    name = net.hidden[i].geom.name
    old = None
    if plan.takes[k - 1][i]:
        old = g.input(f"state_in.{name}", [BATCH, *state_shape(net.hidden[i], k - 1)])
    parts = [t for t in [old, *new] if t is not None]
    if plan.gives[k - 1][i]:
        out = f"state.{name}"
        if len(parts) > 1:
            g.op("Concat", parts, out=out, axis=1)
            parts = [out]            # the next layer reads the state itself: one Concat, not two
        else:
            g.op("Identity", parts, out=out)
        g.output(out, [BATCH, *state_shape(net.hidden[i], k)])
    return parts


def _linear_map(g: GraphBuilder, layer: FoldedLayer, x: str | None, rows, cols,
                input_shape) -> str:
    """Conv/Gemm of the new rows over the input columns, BN folded; bias only if no input."""
    geo, name = layer.geom, layer.geom.name
    bias = g.const(f"{name}.bias", layer.bias[rows])
    if x is None or cols.size == 0:
        shape = [rows.size, *geo.out_hw] if geo.kind == "conv" else [rows.size]
        return _broadcast(g, bias, shape)
    weight = layer.weight[rows][:, cols]
    w = g.const(f"{name}.weight", weight)
    if geo.kind == "conv":
        pads = [geo.padding] * 4
        return g.op("Conv", [x, w, bias], kernel_shape=[geo.kernel] * 2, pads=pads)
    return g.op("Gemm", [_flat(g, x), w, bias], transB=1)


def _classifier(g: GraphBuilder, net: FoldedNet, k: int, h: str | None) -> str:
    c = net.classifier
    base = g.input("logits_in", [BATCH, net.classes]) if k > 1 else None
    if base is None:
        base = g.const("classifier.bias", c.bias)
    if h is None:
        if k > 1:
            return g.op("Identity", [base], out="logits")
        return _broadcast(g, base, [net.classes], out="logits")
    cols = _columns(c, new_units(net.hidden[-1].steps, k))
    w = g.const("classifier.weight", c.weight[:, cols])
    return g.op("Gemm", [_flat(g, h), w, base], out="logits", transB=1)


def _columns(layer: FoldedLayer, units: np.ndarray) -> np.ndarray:
    """Weight columns of the given input units: each unit owns ``in_per_unit``
    contiguous features (a flattened H*W map) in a linear layer."""
    if layer.geom.kind == "conv":
        return units
    p = layer.geom.in_per_unit
    return (units[:, None] * p + np.arange(p)[None, :]).reshape(-1)


def _concat(g: GraphBuilder, parts: list[str | None]) -> str | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)


def _flat(g: GraphBuilder, x: str) -> str:
    return g.op("Flatten", [x], axis=1)


def _broadcast(g: GraphBuilder, value: str, shape: list[int], out: str | None = None) -> str:
    """``value`` (one number per unit) as a [N, *shape] tensor, N taken from the image:
    0 * image[:, :1, :1, :1] + value, which shape inference follows exactly. 0 MACs."""
    ints = lambda name, v: g.const(g.fresh(name), np.array(v, dtype=np.int64))  # noqa: E731
    corner = g.op("Slice", ["image", ints("starts", [0, 0, 0]), ints("ends", [1, 1, 1]),
                            ints("axes", [1, 2, 3])])
    if len(shape) == 1:
        corner = _flat(g, corner)
    zero = g.op("Mul", [corner, g.const(g.fresh("zero"), np.zeros((), np.float32))])
    tiled = g.op("Reshape", [value, ints("shape", [shape[0]] + [1] * (len(shape) - 1))])
    if len(shape) > 1:
        tiled = g.op("Expand", [tiled, ints("dims", shape)])
    return g.op("Add", [zero, tiled], out=out)


def state_shape(layer: FoldedLayer, k: int) -> list[int]:
    """Shape (without batch) of layer's state after stage k: units with step <= k."""
    n = int(np.sum(layer.steps <= k))
    geo = layer.geom
    if geo.kind != "conv":
        return [n]
    p = geo.pool or 1
    return [n, geo.out_hw[0] // p, geo.out_hw[1] // p]


def layer_table(net: FoldedNet) -> str:
    """Geometry of every layer without unit counts (JSON), for rebuilding from graphs."""
    rows = []
    for layer in (*net.hidden, net.classifier):
        d = asdict(layer.geom)
        for key in ("in_units", "out_units"):
            d.pop(key)
        rows.append(d)
    return json.dumps(rows)
