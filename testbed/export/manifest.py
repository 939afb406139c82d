"""manifest.json of a new bundle (DESIGN §3 table), assembled from the checkpoint's meta,
the per-stage figures that export measured, and the eval record. Fields beyond the table
are additions (``width``, ``num_stages``, ``export``, per-stage ``inputs``/``outputs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..bundle import FORMAT_VERSION, INCREMENTAL_METHODS, EvalRecord
from ..errors import TestbedError


@dataclass(frozen=True)
class StageInfo:
    file: str
    sha256: str
    macs: int
    macs_dense: int
    params: int
    inputs: list
    outputs: list


def meta_field(meta: dict, key: str, where: str):
    if meta.get(key) is None:
        raise TestbedError(f"{where}: checkpoint meta lacks {key!r} (needed by the manifest)")
    return meta[key]


def build_manifest(name: str, meta: dict, stages: list[StageInfo], record: EvalRecord,
                   extra: dict, where: str = "checkpoint") -> dict:
    method = meta_field(meta, "method", where)
    incremental = method in INCREMENTAL_METHODS
    accuracy = record.accuracy()
    rows, total = [], 0
    for k, st in enumerate(stages, start=1):
        total = total + st.macs if incremental else st.macs
        rows.append({"index": k, "file": st.file, "sha256": st.sha256, "macs": st.macs,
                     "macs_dense": st.macs_dense, "cumulative_macs": total, "params": st.params,
                     "accuracy": float(accuracy[k - 1]), "inputs": st.inputs,
                     "outputs": st.outputs})
    return {
        "format_version": FORMAT_VERSION, "name": name, "method": method,
        "architecture": meta_field(meta, "arch", where),
        "dataset": meta_field(meta, "dataset", where),
        "classes": list(meta_field(meta, "classes", where)),
        "input": _input(meta_field(meta, "input", where)),
        "incremental": incremental,
        "original_macs": int(meta_field(meta, "original_macs", where)),
        "original_accuracy": float(meta_field(meta, "original_accuracy", where)),
        "stages": rows,
        "training": dict(meta.get("training") or {}),
        "test_accuracy": meta.get("test_accuracy"),
        "num_stages": len(rows),
        "eval": {"split": record.split, "samples": int(len(record.labels))},
        "export": {"testbed_version": __version__, **extra},
    }


def _input(inp: dict) -> dict:
    return {"shape": [int(v) for v in inp["shape"]], "mean": [float(v) for v in inp["mean"]],
            "std": [float(v) for v in inp["std"]]}


def jsonable(value):
    """numpy scalars and arrays in meta dicts -> plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
