"""Validation of a bundle already on disk (``testbed inspect``, ``profile``): on top of
:func:`testbed.bundle.load_bundle` (manifest fields, sha256 of every stage, eval record)
it loads each stage graph, checks its metadata against the manifest, recounts its MACs
from the graph, checks the chaining rule, and runs a tiny batch through the chain.
Every problem is a :class:`~testbed.errors.BundleError` naming the file.
"""

from __future__ import annotations

import numpy as np
import onnx

from ..bundle import Bundle, load_bundle
from ..errors import BundleError
from .onnx_macs import count_macs
from .runtime import Chain, make_session


def load_stage_models(bundle: Bundle) -> list[onnx.ModelProto]:
    models = []
    for k in range(1, bundle.manifest.num_stages + 1):
        path = bundle.stage_path(k)
        try:
            models.append(onnx.load(str(path)))
        except Exception as exc:  # protobuf decode errors have several types
            raise BundleError(f"{path}: not a readable ONNX graph ({exc})") from None
    return models


def validate_bundle(path, threads: int | None = 1) -> Bundle:
    bundle = load_bundle(path, verify=True)
    models = load_stage_models(bundle)
    for k, model in enumerate(models, start=1):
        _check_stage(bundle, k, model)
    _check_accuracy(bundle)
    labels = [str(bundle.stage_path(k)) for k in range(1, len(models) + 1)]
    chain = Chain([make_session(m, threads, lb) for m, lb in zip(models, labels)], labels)
    _check_runs(bundle, chain)
    return bundle


def _check_stage(bundle: Bundle, k: int, model: onnx.ModelProto) -> None:
    st, man, path = bundle.manifest.stages[k - 1], bundle.manifest, bundle.stage_path(k)
    props = {p.key: p.value for p in model.metadata_props}
    want = {"testbed.stage": str(k), "testbed.num_stages": str(man.num_stages),
            "testbed.method": man.method, "testbed.macs": str(st.macs)}
    for key, value in want.items():
        if props.get(key) != value:
            raise BundleError(f"{path}: metadata {key} is {props.get(key)!r}, the manifest "
                              f"implies {value!r}: stage file and manifest do not match")
    names = [i.name for i in model.graph.input]
    if not man.incremental and names != ["image"]:
        raise BundleError(f"{path}: a non-incremental stage must take only 'image', takes {names}")
    if man.incremental and k > 1 and "logits_in" not in names:
        raise BundleError(f"{path}: stage {k} of an incremental bundle must take 'logits_in'")
    counted = count_macs(model)
    if counted != st.macs_dense:
        raise BundleError(f"{path}: the graph executes {counted:,} MACs but the manifest's "
                          f"stages[{k - 1}].macs_dense is {st.macs_dense:,}")


def _check_accuracy(bundle: Bundle) -> None:
    measured = bundle.eval.accuracy()
    for st, acc in zip(bundle.manifest.stages, measured):
        if abs(st.accuracy - float(acc)) > 1e-6:
            raise BundleError(f"{bundle.path / 'manifest.json'}: stages[{st.index - 1}].accuracy "
                              f"is {st.accuracy:.4f} but eval.npz gives {acc:.4f}")


def _check_runs(bundle: Bundle, chain: Chain) -> None:
    shape = bundle.manifest.input["shape"]
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    try:
        outs = chain.run(x)
    except BundleError:
        raise
    except Exception as exc:  # ORT errors on inputs of the wrong shape, etc.
        raise BundleError(f"{bundle.path}: the stages do not chain in ONNX Runtime ({exc})") from None
    for k, logits in enumerate(outs, start=1):
        if logits.shape != (2, len(bundle.manifest.classes)) or not np.all(np.isfinite(logits)):
            raise BundleError(f"{bundle.stage_path(k)}: logits of shape {logits.shape} (finite: "
                              f"{np.all(np.isfinite(logits))}), expected (2, {len(bundle.manifest.classes)})")
