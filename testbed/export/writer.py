"""``testbed export``: checkpoint in, model bundle out (DESIGN §3).

Builds the stage graphs (an incremental NestedNet gives K chained stages; a
non-incremental model gives one standalone graph per subnet from ``model.subnets()``),
verifies them (:mod:`.verify`), scores them on the test split (:mod:`.evaluate`), and
writes the bundle into a temporary folder next to ``--out``; only when everything passed
and the written bundle reads back clean is it renamed into place, so a failed export
never leaves a half-written bundle and never destroys a good one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx

from ..bundle import INCREMENTAL_METHODS, METHODS, load_bundle, sha256_file, write_eval, write_manifest
from ..errors import TestbedError
from .evaluate import evaluate_chain, normalized
from .fold import fold_net
from .graph import OPSET
from .manifest import StageInfo, build_manifest, jsonable, meta_field
from .runtime import Chain, make_session
from .stages import build_stages
from .verify import check_graphs, check_macs, check_parity

PARITY_SAMPLES = 64


def export_checkpoint(checkpoint, out, data_root=None, **options) -> Path:
    from ..checkpoint import load_checkpoint
    model, meta = load_checkpoint(checkpoint)
    return export_model(model, meta, out, data_root, where=str(checkpoint), **options)


def export_model(model, meta: dict, out, data_root=None, *, limit: int | None = None,
                 threads: int | None = None, batch_size: int = 256,
                 where: str = "checkpoint") -> Path:
    """Export ``model`` (with its checkpoint ``meta``) as the bundle folder ``out``."""
    import onnxruntime
    from ..data import load_split
    method = meta_field(meta, "method", where)
    if method not in METHODS:
        raise TestbedError(f"{where}: meta.method: expected one of {', '.join(METHODS)}, got {method!r}")
    nets = stage_nets(model, method, where)
    models, macs, dense = build_graphs(nets, method)
    labels = [f"stage {k}" for k in range(1, len(models) + 1)]
    check_graphs(models, labels)
    check_macs(models, dense, labels)
    split = load_split(meta_field(meta, "dataset", where), data_root, "test")
    images, targets = split.images.numpy(), split.labels.numpy()
    images, targets = (images[:limit], targets[:limit]) if limit else (images, targets)
    inp = meta_field(meta, "input", where)
    chain = Chain([make_session(m, threads, label) for m, label in zip(models, labels)], labels)
    diff = parity(chain, nets, method, normalized(images[:PARITY_SAMPLES], inp["mean"], inp["std"]))
    record = evaluate_chain(chain, images, targets, inp["mean"], inp["std"], batch_size=batch_size)
    extra = {"onnx_opset": OPSET, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
             "parity_max_abs_diff": diff, "parity_samples": int(min(PARITY_SAMPLES, len(targets)))}
    return write_bundle(Path(out), models, macs, dense, jsonable(meta), record, extra)


def stage_nets(model, method: str, where: str) -> list:
    """The NestedNets to export: the model itself (incremental) or its subnets."""
    if method in INCREMENTAL_METHODS:
        if not hasattr(model, "stage_macs"):
            raise TestbedError(f"{where}: method {method} needs a nested-subnet model")
        return [model]
    if not hasattr(model, "subnets"):
        raise TestbedError(f"{where}: method {method} needs a model with subnets()")
    nets = list(model.subnets())
    for k, net in enumerate(nets, start=1):
        if net.num_steps != 1:
            raise TestbedError(f"{where}: subnet {k} has {net.num_steps} steps, expected 1")
    return nets


def build_graphs(nets: list, method: str):
    """(stage models, stage macs, stage macs_dense) in stage order."""
    if method in INCREMENTAL_METHODS:
        net = nets[0]
        macs, dense = net.stage_macs(), net.stage_macs(dense=True)
    else:
        macs = [n.stage_macs()[0] for n in nets]
        dense = [n.stage_macs(dense=True)[0] for n in nets]
    num = len(macs)
    meta = [{"testbed.stage": k, "testbed.num_stages": num, "testbed.macs": macs[k - 1],
             "testbed.macs_dense": dense[k - 1], "testbed.method": method}
            for k in range(1, num + 1)]
    if method in INCREMENTAL_METHODS:
        models = build_stages(fold_net(nets[0]), meta)
    else:
        models = [build_stages(fold_net(n), [meta[k]])[0] for k, n in enumerate(nets)]
    return models, macs, dense


def parity(chain: Chain, nets: list, method: str, x: np.ndarray) -> float:
    import torch
    got = chain.run(x)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        if method in INCREMENTAL_METHODS:
            want = [nets[0](xt, k).numpy() for k in range(1, nets[0].num_steps + 1)]
        else:
            want = [n(xt).numpy() for n in nets]
    return check_parity(got, want, [f"subnet {k}" for k in range(1, len(want) + 1)])


def params(model: onnx.ModelProto) -> int:
    """Weights and biases held by a stage graph (float initializers)."""
    return int(sum(np.prod(t.dims) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT))


def write_bundle(out: Path, models, macs, dense, meta: dict, record, extra: dict) -> Path:
    _refuse_foreign(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        infos = []
        for k, model in enumerate(models, start=1):
            path = tmp / f"stage_{k}.onnx"
            onnx.save(model, path)
            infos.append(StageInfo(path.name, sha256_file(path), int(macs[k - 1]), int(dense[k - 1]),
                                   params(model), [i.name for i in model.graph.input],
                                   [o.name for o in model.graph.output]))
        write_eval(tmp / "eval.npz", record)
        write_manifest(tmp / "manifest.json", build_manifest(out.name, meta, infos, record, extra))
        load_bundle(tmp, verify=True)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _refuse_foreign(out: Path) -> None:
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "manifest.json").is_file())):
        raise TestbedError(f"{out}: exists and is not a model bundle; refusing to replace it")


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "bundle")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
