"""MACs counted from an ONNX graph itself, independent of :mod:`testbed.cost` (which
training uses): export checks that both agree on every stage's ``macs_dense``, and
``inspect`` re-checks a bundle on disk.

Per sample (the leading batch dimension is excluded): a Conv costs
``prod(weight.shape) * H_out * W_out`` (weight shape [C_out, C_in/groups, kh, kw], output
shape from ONNX shape inference), a Gemm ``K * N_out``, a MatMul ``K * prod(output
shape without batch)``. Every other operator counts 0.
"""

from __future__ import annotations

import math

import onnx
from onnx import shape_inference

from ..errors import BundleError


def count_macs(model: onnx.ModelProto) -> int:
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = _known_shapes(inferred.graph)
    total = 0
    for node in inferred.graph.node:
        counter = _COUNTERS.get(node.op_type)
        if counter is not None:
            total += counter(node, shapes)
    return total


def _known_shapes(graph) -> dict[str, list]:
    shapes = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _shape(shapes: dict, name: str, node) -> list[int]:
    """Shape of a tensor with the batch dimension (if symbolic) replaced by 1."""
    if name not in shapes:
        raise BundleError(f"node {node.name} ({node.op_type}): no inferred shape for {name!r}")
    dims = [1 if (i == 0 and isinstance(d, str)) else d for i, d in enumerate(shapes[name])]
    if not all(isinstance(d, int) and d > 0 for d in dims):
        raise BundleError(f"node {node.name} ({node.op_type}): {name!r} has unknown shape {dims}")
    return dims


def _conv(node, shapes) -> int:
    weight = _shape(shapes, node.input[1], node)
    out = _shape(shapes, node.output[0], node)
    return math.prod(weight) * math.prod(out[2:])


def _gemm(node, shapes) -> int:
    a = _shape(shapes, node.input[0], node)
    b = _shape(shapes, node.input[1], node)
    trans_a = _attr(node, "transA")
    trans_b = _attr(node, "transB")
    k = a[0] if trans_a else a[1]
    n_out = b[0] if trans_b else b[1]
    rows = a[1] if trans_a else a[0]
    return rows * k * n_out


def _matmul(node, shapes) -> int:
    a = _shape(shapes, node.input[0], node)
    out = _shape(shapes, node.output[0], node)
    return a[-1] * math.prod(out)


def _attr(node, name: str) -> int:
    for a in node.attribute:
        if a.name == name:
            return a.i
    return 0


_COUNTERS = {"Conv": _conv, "Gemm": _gemm, "MatMul": _matmul}
