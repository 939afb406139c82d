"""The ``patches`` stage format prototype (issue 18, part 4): stage graphs that never
expand an input twice, built from the same :class:`~.fold.FoldedNet` as :mod:`.stages`
(the ``concat`` format that export writes). Only ``scripts/bench_stage_format.py`` uses
it: on ONNX Runtime's CPU it chains slower than ``concat`` (``reports/bench/
stage_format.json``), so it is not an export format and :mod:`.unfold` refuses it.

Every layer's units new in stage j form one *block*. When the next layer is a
convolution, stage j expands its block once into patches and hands them on as
``state.<layer>.s<j>`` (``state_in.X`` is fed by the latest earlier stage that gave
``state.X``); stage k computes the next layer's new units as a sum of one ``MatMul`` per
carried block plus the bias. Layout ``nhwc``: activations ``[N, H*W, C]``, patches a
``Gather`` of every window's pixels (``[N, Ho*Wo, k*k*C_j]``, ``patches_j @ W_j``),
max-pooling a ``Gather`` + ``ReduceMax``. Layout ``nchw``: patches ``[N, k*k*C_j, Ho*Wo]``
from a ``Gather`` of window rows and one ``Slice`` per column offset (``W_j @ patches_j``),
then the usual Relu/MaxPool. Gather, Slice, Concat, Reshape and Pad move data and count 0
MACs; the MatMuls count exactly the MACs of the ``concat`` format's Conv/Gemm, so
``macs_dense`` keeps its meaning.

``carry="blocks"`` carries raw blocks and re-expands them per stage; ``first`` says how
the image feeds the first layer: ``gather`` (expanded per stage), ``carry`` (expanded in
stage 1, patches carried) or, ``nchw`` only, ``conv`` (a Conv per stage, as ``concat``).
"""

from __future__ import annotations

import json

import numpy as np
import onnx

from .fold import FoldedLayer, FoldedNet, subnet_view
from .graph import BATCH, GraphBuilder
from .plan import canonical_order, new_units
from .stages import layer_table

FORMAT = "patches"


def build_patch_stages(net: FoldedNet, metadata: list[dict] | None = None, carry: str = "patches",
                       first: str = "gather", layout: str = "nhwc") -> list[onnx.ModelProto]:
    meta = metadata or [{}] * net.num_steps
    cls = _StageNCHW if layout == "nchw" else _Stage
    return [cls(net, k, carry, first).build(meta[k - 1]) for k in range(1, net.num_steps + 1)]


def build_patch_monolithic(net: FoldedNet, k: int, carry: str = "patches",
                           first: str = "gather", layout: str = "nhwc") -> onnx.ModelProto:
    cls = _StageNCHW if layout == "nchw" else _Stage
    return cls(subnet_view(net, k), 1, carry, first).build({"testbed.subnet": k}, f"subnet_{k}")


def window_index(in_hw, kernel: int, padding: int, stride: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Flat input positions of every window, ordered (output pixel, offset); positions in
    the padding point at ``H*W`` (a zero row appended by ``Pad``)."""
    h, w = in_hw
    ho, wo = (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1
    oy, ox, dy, dx = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kernel), np.arange(kernel),
                                 indexing="ij")
    y, x = oy * stride + dy - padding, ox * stride + dx - padding
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.where(inside, y * w + x, h * w).reshape(-1).astype(np.int64), (ho, wo)


class _Stage:
    def __init__(self, net: FoldedNet, k: int, carry: str, first: str):
        self.net, self.k, self.carry, self.first = net, k, carry, first
        self.g = GraphBuilder()

    def build(self, metadata: dict, graph_name: str | None = None) -> onnx.ModelProto:
        g, net = self.g, self.net
        blocks = {1: self._image(g.input("image", [BATCH, *net.input_shape]))}
        for i, layer in enumerate(net.hidden):
            feeds = self._feeds(i, blocks)
            blocks = {}
            rows = new_units(layer.steps, self.k)
            if rows.size:
                blocks[self.k] = self._layer(i, layer, rows, feeds)
        logits = self._classifier(blocks.get(self.k))
        g.output(logits, [BATCH, net.classes])
        g.inputs.sort(key=lambda v: {"image": 0, "logits_in": 1}.get(v.name, 2))
        g.outputs.sort(key=lambda v: v.name != "logits")
        meta = {"testbed.layers": layer_table(net),
                "testbed.input_shape": json.dumps(list(net.input_shape)),
                "testbed.stage_format": FORMAT, **metadata}
        return g.model(graph_name or f"stage_{self.k}", meta)

    def _image(self, image: str) -> str:
        c, h, w = self.net.input_shape
        return self.g.op("Reshape", [self.g.op("Transpose", [image], perm=[0, 2, 3, 1]),
                                     self._ints([0, h * w, c])])

    # -- inputs of layer i, one tensor per step block --------------------------------------
    def _feeds(self, i: int, blocks: dict) -> dict:
        """{step j: tensor} of layer i's input units of step j <= k, expanded for layer i
        (patches for a conv, flat features for a linear layer)."""
        layer, net = self.net.hidden[i] if i < len(self.net.hidden) else None, self.net
        in_steps = net.in_steps(i)
        reads = bool(new_units(layer.steps, self.k).size)
        feeds = {}
        for j in sorted(set(in_steps[in_steps <= self.k].tolist())):
            n_j = int(np.sum(in_steps == j))
            expand = lambda x, out=None, n_j=n_j: self._expand(i, x, n_j, out)  # noqa: E731
            if i == 0:
                if reads or (self.first == "carry" and self.k == 1):
                    x = self._image_feed(expand, blocks[1])
                    feeds[j] = x if reads else None
                continue
            name = net.hidden[i - 1].geom.name
            later = any(np.any(layer.steps == s) for s in range(self.k + 1, net.num_steps + 1))
            if j == self.k:
                state = f"state.{name}.s{j}" if later else None
                if self.carry == "patches" and (reads or later):
                    x = expand(blocks[j], state)          # the patches are the state: no copy
                else:
                    x = blocks.get(j)
                    if later:
                        self.g.op("Identity", [x], out=state)
                if later:
                    self.g.output(state, self._shape(i, j, self.carry == "patches"))
                if self.carry != "patches" and reads:
                    x = expand(x)
            elif reads:
                x = self.g.input(f"state_in.{name}.s{j}", self._shape(i, j, self.carry == "patches"))
                if self.carry != "patches":
                    x = expand(x)
            else:
                continue
            feeds[j] = x
        return {j: x for j, x in feeds.items() if x is not None}

    def _image_feed(self, expand, flat_image: str) -> str:
        if self.first == "gather":
            return expand(flat_image)
        if self.k == 1:
            carried = bool(np.any(self.net.hidden[0].steps > 1))
            x = expand(flat_image, "state.image.s1" if carried else None)
            if carried:
                self.g.output("state.image.s1", self._shape(0, 1, True))
            return x
        return self.g.input("state_in.image.s1", self._shape(0, 1, True))

    def _shape(self, i: int, j: int, expanded: bool) -> list:
        """Shape of layer i's input block of step j, raw or expanded for layer i."""
        units = int(np.sum(self.net.in_steps(i) == j))
        geo = self.net.hidden[i].geom
        if expanded and geo.kind == "conv":
            _, (ho, wo) = window_index(geo.in_hw, geo.kernel, geo.padding, 1)
            return [BATCH, ho * wo, geo.kernel ** 2 * units]
        if expanded:
            return [BATCH, geo.in_per_unit * units]
        if i == 0:
            return [BATCH, self.net.input_shape[1] * self.net.input_shape[2], units]
        prev = self.net.hidden[i - 1].geom
        if prev.kind != "conv":
            return [BATCH, units]
        p = prev.pool or 1
        return [BATCH, (prev.out_hw[0] // p) * (prev.out_hw[1] // p), units]

    def _expand(self, i: int, x: str, units: int, out: str | None = None) -> str:
        geo = self.net.hidden[i].geom
        if geo.kind != "conv":
            return self.g.op("Reshape", [x, self._ints([0, -1])], out=out)
        index, (ho, wo) = window_index(geo.in_hw, geo.kernel, geo.padding, 1)
        if geo.padding:
            x = self.g.op("Pad", [x, self._ints([0, 0, 0, 0, 1, 0])])
        x = self.g.op("Gather", [x, self.g.const(self.g.fresh("window"), index)], axis=1)
        return self.g.op("Reshape", [x, self._ints([0, ho * wo, geo.kernel ** 2 * units])], out=out)

    # -- one layer's new units -------------------------------------------------------------
    def _layer(self, i: int, layer: FoldedLayer, rows: np.ndarray, feeds: dict) -> str:
        g, geo = self.g, layer.geom
        in_steps = self.net.in_steps(i)
        order = canonical_order(in_steps, self.k)
        y = None
        for j, x in feeds.items():
            units = order[in_steps[order] == j]
            wt = _block_weight(layer, rows, units)
            mm = g.op("MatMul", [x, g.const(f"{geo.name}.weight.s{j}", wt)])
            y = mm if y is None else g.op("Add", [y, mm])
        bias = g.const(f"{geo.name}.bias", layer.bias[rows])
        if y is None:
            shape = [geo.out_hw[0] * geo.out_hw[1], rows.size] if geo.kind == "conv" else [rows.size]
            y = self._zeros(shape)
        y = g.op("Add", [y, bias])
        if geo.relu:
            y = g.op("Relu", [y])
        if geo.pool:
            index, (ho, wo) = window_index(geo.out_hw, geo.pool, 0, geo.pool)
            y = g.op("Gather", [y, g.const(g.fresh("pool"), index)], axis=1)
            y = g.op("Reshape", [y, self._ints([0, ho * wo, geo.pool ** 2, rows.size])])
            y = g.op("ReduceMax", [y], axes=[2], keepdims=0)
        return y

    def _classifier(self, h: str | None) -> str:
        g, net, c = self.g, self.net, self.net.classifier
        base = self._logits_base()
        if h is None:
            if self.k > 1:
                return g.op("Identity", [base], out="logits")
            return g.op("Add", [self._zeros([net.classes]), base], out="logits")
        units = new_units(net.hidden[-1].steps, self.k)
        wt = _block_weight(c, np.arange(net.classes), units)
        flat = g.op("Reshape", [h, self._ints([0, -1])])
        return g.op("Gemm", [flat, g.const("classifier.weight", wt), base], out="logits")

    def _logits_base(self) -> str:
        net = self.net
        if self.k > 1:
            return self.g.input("logits_in", [BATCH, net.classes])
        return self.g.const("classifier.bias", net.classifier.bias)

    def _zeros(self, shape: list[int]) -> str:
        """Zeros of shape [N, *shape], N taken from the image (0 * a corner of it)."""
        g = self.g
        corner = g.op("Slice", ["image", self._ints([0, 0, 0]), self._ints([1, 1, 1]),
                                self._ints([1, 2, 3])])
        corner = g.op("Reshape", [corner, self._ints([0] + [1] * len(shape))])
        return g.op("Mul", [corner, g.const(g.fresh("zeros"), np.zeros(shape, np.float32))])

    def _ints(self, values) -> str:
        return self.g.const(self.g.fresh("shape"), np.array(values, dtype=np.int64))


def _block_weight(layer: FoldedLayer, rows: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Weight of ``rows`` over the input ``units`` of one block, as the right operand of
    ``block @ W``: conv ``[k*k*U, R]`` (offset-major), linear ``[P*U, R]`` (pixel-major:
    a flattened channels-last block) where the layer reads P features per unit."""
    geo = layer.geom
    w = layer.weight[rows]
    if geo.kind == "conv":
        w = w[:, units]                                   # [R, U, kh, kw]
        return np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, rows.size))
    p = geo.in_per_unit
    w = w.reshape(rows.size, -1, p)[:, units]             # [R, U, P]
    return np.ascontiguousarray(w.transpose(2, 1, 0).reshape(-1, rows.size))


class _StageNCHW(_Stage):
    """The same plan in NCHW: a block's patches are ``[N, k*k*C_j, Ho*Wo]`` built by a
    ``Gather`` of window rows and one ``Slice`` per column offset (contiguous copies);
    a conv is ``sum_j W_j @ patches_j`` then the usual Relu/MaxPool. ``first="conv"``
    keeps the first layer a Conv on the image (re-expanded per stage, as ``concat``)."""

    def _image(self, image: str) -> str:
        return image

    def _image_feed(self, expand, image: str) -> str:
        return image if self.first == "conv" else super()._image_feed(expand, image)

    def _shape(self, i: int, j: int, expanded: bool) -> list:
        units = int(np.sum(self.net.in_steps(i) == j))
        geo = self.net.hidden[i].geom
        if expanded and geo.kind == "conv":
            _, (ho, wo) = window_index(geo.in_hw, geo.kernel, geo.padding, 1)
            return [BATCH, geo.kernel ** 2 * units, ho * wo]
        if expanded:
            return [BATCH, geo.in_per_unit * units]
        if i == 0:
            return [BATCH, units, *self.net.input_shape[1:]]
        prev = self.net.hidden[i - 1].geom
        if prev.kind != "conv":
            return [BATCH, units]
        p = prev.pool or 1
        return [BATCH, units, prev.out_hw[0] // p, prev.out_hw[1] // p]

    def _expand(self, i: int, x: str, units: int, out: str | None = None) -> str:
        g, geo = self.g, self.net.hidden[i].geom
        if geo.kind != "conv":
            return g.op("Flatten", [x], out=out, axis=1)
        kern, pad = geo.kernel, geo.padding
        if pad:
            x = g.op("Pad", [x, self._ints([0, 0, pad, pad, 0, 0, pad, pad])])
        h, w = geo.in_hw[0] + 2 * pad, geo.in_hw[1] + 2 * pad
        ho, wo = h - kern + 1, w - kern + 1
        rows = (np.arange(kern)[:, None] + np.arange(ho)[None, :]).reshape(-1).astype(np.int64)
        x = g.op("Gather", [x, g.const(g.fresh("rows"), rows)], axis=2)       # [N, U, kh*Ho, W]
        cols = [g.op("Slice", [x, self._ints([dx]), self._ints([dx + wo]), self._ints([3])])
                for dx in range(kern)]
        x = cols[0] if kern == 1 else g.op("Concat", cols, axis=1)             # [N, kw*U, kh*Ho, Wo]
        return g.op("Reshape", [x, self._ints([0, kern * units * kern, ho * wo])], out=out)

    def _layer(self, i: int, layer: FoldedLayer, rows: np.ndarray, feeds: dict) -> str:
        g, geo = self.g, layer.geom
        if i == 0 and self.first == "conv" and geo.kind == "conv":
            w = g.const(f"{geo.name}.weight", layer.weight[rows])
            b = g.const(f"{geo.name}.bias", layer.bias[rows])
            y = g.op("Conv", [feeds[1], w, b], kernel_shape=[geo.kernel] * 2, pads=[geo.padding] * 4)
            return self._finish(layer, y)
        in_steps = self.net.in_steps(i)
        order = canonical_order(in_steps, self.k)
        y = None
        for j, x in feeds.items():
            units = order[in_steps[order] == j]
            if geo.kind == "conv":
                w = layer.weight[rows][:, units].transpose(0, 3, 1, 2).reshape(rows.size, -1)
                mm = g.op("MatMul", [g.const(f"{geo.name}.weight.s{j}", np.ascontiguousarray(w)), x])
            else:
                p = geo.in_per_unit
                w = layer.weight[rows].reshape(rows.size, -1, p)[:, units].reshape(rows.size, -1)
                mm = g.op("MatMul", [x, g.const(f"{geo.name}.weight.s{j}", np.ascontiguousarray(w.T))])
            y = mm if y is None else g.op("Add", [y, mm])
        if geo.kind == "conv":
            bias = g.const(f"{geo.name}.bias", layer.bias[rows].reshape(-1, 1))
            if y is None:
                y = self._zeros([rows.size, geo.out_hw[0] * geo.out_hw[1]])
            y = g.op("Reshape", [g.op("Add", [y, bias]), self._ints([0, rows.size, *geo.out_hw])])
        else:
            bias = g.const(f"{geo.name}.bias", layer.bias[rows])
            if y is None:
                y = self._zeros([rows.size])
            y = g.op("Add", [y, bias])
        return self._finish(layer, y)

    def _finish(self, layer: FoldedLayer, y: str) -> str:
        geo = layer.geom
        if geo.relu:
            y = self.g.op("Relu", [y])
        if geo.pool:
            y = self.g.op("MaxPool", [y], kernel_shape=[geo.pool] * 2, strides=[geo.pool] * 2)
        return y

    def _classifier(self, h: str | None) -> str:
        g, net, c = self.g, self.net, self.net.classifier
        if h is None:
            return super()._classifier(h)
        units = new_units(net.hidden[-1].steps, self.k)
        p = c.geom.in_per_unit
        w = c.weight.reshape(net.classes, -1, p)[:, units].reshape(net.classes, -1)
        w = g.const("classifier.weight", np.ascontiguousarray(w))
        flat = g.op("Flatten", [h], axis=1)
        return g.op("Gemm", [flat, w, self._logits_base()], out="logits", transB=1)
