"""What a stage graph executes, counted from its ONNX file: dense MACs
(:func:`testbed.export.onnx_macs.count_macs`), the MACs ONNX Runtime's CPU kernels execute
(``kernel_macs``: a Conv that runs in the blocked NCHWc kernels computes its output
channels, and its input channels from one block on, in whole blocks, so a stage adding 9
filters pays for 16; measured for issue 19, ``python scripts/profile_ops.py``; the block
is the vector width, 16 floats with AVX-512 and 8 with AVX2, so every graph is counted
for both and the latency model's ``block`` picks one), bytes
moved (every initializer read once, plus every non-initializer tensor each operator reads
and writes, sized by ONNX shape inference with the batch dimension 1), operators
(Constant nodes excluded: ONNX Runtime folds them), inputs and outputs (initializers
excluded) and the bytes of input patches its convolutions expand (im2col: ``C_in × kh ×
kw × H_out × W_out`` floats per Conv whose kernel is larger than 1×1 and that does not
run in the blocked kernels). Which Conv runs where (ONNX Runtime's CPU provider, one
group): blocked when ``C_in`` is under one block or a multiple of 4, else im2col + matrix
product (measured for issue 18, reports/bench/stage_format.json). Read by
:mod:`testbed.scenario` for ``cost_model: latency`` (the simulator itself never imports
onnx) and by ``testbed calibrate``. Memoised per stage file and checksum, so loading a
scenario twice reads each graph once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from ..bundle import Bundle
from ..errors import BundleError, ConfigError
from ..sim.latency import BLOCKS, DEFAULT_BLOCK, StageGraph

_CACHE: dict[tuple[str, str], StageGraph] = {}


def bundle_graphs(bundle: Bundle, file: Path | None = None, where: str | None = None
                  ) -> tuple[StageGraph, ...]:
    """Per stage of ``bundle``: its graph figures (MACs: the manifest's ``macs_dense``,
    which export and ``inspect`` check against the graph). Errors name ``file``/``where``."""
    out = []
    for st in bundle.manifest.stages:
        path = bundle.stage_path(st.index)
        key = (str(path), st.sha256)
        if key not in _CACHE:
            try:
                _CACHE[key] = graph_stats(_load(path), macs=st.macs_dense)
            except BundleError as exc:
                raise ConfigError(file, where, "a bundle whose stage graphs ONNX shape "
                                  "inference can size (cost_model: latency counts their "
                                  "bytes)", str(exc)) from None
        out.append(_CACHE[key])
    return tuple(out)


def _load(path: Path):
    import onnx
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf decode errors have several types
        raise BundleError(f"{path}: not a readable ONNX graph ({exc})") from None


def graph_stats(model, macs: int | None = None) -> StageGraph:
    """``model`` (an ``onnx.ModelProto``) counted; ``macs`` if already known."""
    from onnx import shape_inference
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # onnx raises InferenceError and others
        raise BundleError(f"shape inference failed ({str(exc).splitlines()[0]})") from None
    graph = inferred.graph
    weights = {init.name: _init_bytes(init) for init in graph.initializer}
    sizes = _tensor_bytes(graph)
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    moved = sum(weights.values())
    for node in nodes:
        for name in list(node.input) + list(node.output):
            if name and name not in weights:
                moved += sizes.get(name, 0)
    if macs is None:
        from ..export.onnx_macs import count_macs
        macs = count_macs(model)
    dims = _dims(graph)
    shapes = [c for c in (_conv(n, dims) for n in nodes if n.op_type == "Conv") if c]
    blocks = []
    for block in BLOCKS:
        convs = [dataclasses.replace(c, block=block) for c in shapes]
        blocks.append((block, int(macs) + sum(c.padding_macs for c in convs),
                       sum(c.patch_bytes for c in convs)))
    io = sum(1 for i in graph.input if i.name not in weights) + len(graph.output)
    return StageGraph(int(macs), int(moved), len(nodes), 0, io,
                      blocks=tuple(blocks)).at_block(DEFAULT_BLOCK)


NCHWC_ALIGN = 4  # ONNX Runtime CPU: blocked kernels for input channels at multiples of it


@dataclass(frozen=True)
class _Conv:
    """One Conv's shape: input channels per group, output channels, kernel positions,
    output positions, groups."""
    c_in: int
    c_out: int
    kernel: int
    positions: int
    groups: int
    block: int = DEFAULT_BLOCK  # the kernels' channel block on this host

    @property
    def blocked(self) -> bool:
        """Runs in ONNX Runtime's blocked NCHWc kernels (else im2col + matrix product)."""
        channels = self.c_in * self.groups
        return channels < self.block or channels % NCHWC_ALIGN == 0

    @property
    def padding_macs(self) -> int:
        """MACs the kernels execute beyond the dense count (which onnx_macs makes): a
        blocked single-group Conv computes whole blocks of output channels, and of input
        channels once they come blocked (a block or more); anything else pads nothing."""
        if not self.blocked or self.groups != 1:
            return 0
        c_in = self.c_in if self.c_in < self.block else _round_up(self.c_in, self.block)
        padded = c_in * _round_up(self.c_out, self.block)
        return (padded - self.c_in * self.c_out) * self.kernel * self.positions

    @property
    def patch_bytes(self) -> int:
        """Bytes of the im2col patch matrix: input channels × kernel positions × output
        positions (0 for a 1×1 kernel or a Conv that runs in the blocked kernels)."""
        if self.kernel <= 1 or self.blocked:
            return 0
        return self.c_in * self.groups * self.kernel * self.positions * 4


def _round_up(n: int, block: int) -> int:
    return -(-n // block) * block


def _conv(node, dims: dict[str, list[int]]) -> _Conv | None:
    """The shape of one Conv node (None where shape inference left it unknown)."""
    weight, out = dims.get(node.input[1]), dims.get(node.output[0])
    if not weight or not out or len(weight) != 4 or len(out) != 4:
        return None
    groups = next((a.i for a in node.attribute if a.name == "group"), 1)
    return _Conv(weight[1], weight[0], weight[2] * weight[3], out[2] * out[3], groups)


def _init_bytes(init) -> int:
    from onnx import helper
    itemsize = helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
    return math.prod(init.dims) * itemsize


def _dims(graph) -> dict[str, list[int]]:
    dims = {init.name: list(init.dims) for init in graph.initializer}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        dims[vi.name] = [d.dim_value if d.HasField("dim_value") else 1
                         for d in vi.type.tensor_type.shape.dim]
    return dims


def _tensor_bytes(graph) -> dict[str, int]:
    from onnx import helper
    sizes = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
        try:
            itemsize = helper.tensor_dtype_to_np_dtype(t.elem_type).itemsize
        except (KeyError, TypeError):
            itemsize = 4
        sizes[vi.name] = math.prod(max(d, 1) for d in dims) * itemsize
    return sizes
