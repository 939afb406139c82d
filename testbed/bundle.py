"""Model bundles (DESIGN.md §3): read, validate and write ``manifest.json`` + ``eval.npz``.

Sits between ``export`` (which writes bundles) and ``sim`` / ``profile`` / ``inspect``
(which read them). Imports neither torch nor onnxruntime: the simulator replays the eval
record and needs only this module. Every problem is a :class:`BundleError` naming the file
and field. File names inside a manifest are plain names in the bundle folder: a manifest
cannot make the tool read outside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BundleError

FORMAT_VERSION = 1
METHODS = ("steppingnet", "anywidth", "slimmable", "static")
INCREMENTAL_METHODS = ("steppingnet", "anywidth")
STAGE_FIELDS = ("index", "file", "sha256", "macs", "macs_dense", "cumulative_macs",
                "params", "accuracy")


@dataclass(frozen=True)
class Stage:
    index: int
    file: str
    sha256: str
    macs: int
    macs_dense: int
    cumulative_macs: int
    params: int
    accuracy: float
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Manifest:
    format_version: int
    name: str
    method: str
    architecture: str
    dataset: str
    classes: tuple[str, ...]
    input: dict
    incremental: bool
    original_macs: int
    original_accuracy: float
    stages: tuple[Stage, ...]
    training: dict
    raw: dict = field(compare=False, repr=False, default_factory=dict)

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def cost_to_reach(self, k: int, cost: str = "macs") -> int:
        """MACs to obtain subnet ``k`` (1-based) from scratch: stages 1..k when
        incremental, stage k alone otherwise."""
        if self.incremental:
            return sum(getattr(s, cost) for s in self.stages[:k])
        return getattr(self.stages[k - 1], cost)


@dataclass(frozen=True)
class EvalRecord:
    labels: np.ndarray        # [S] int64
    pred: np.ndarray          # [S, K] int64: class after each stage
    conf: np.ndarray          # [S, K] float32: max softmax probability after each stage
    sample_ids: np.ndarray    # [S] int64: dataset indices of these rows
    split: str

    @property
    def correct(self) -> np.ndarray:
        """[S, K] bool: stage k's prediction is right."""
        return self.pred == self.labels[:, None]

    def accuracy(self) -> np.ndarray:
        return self.correct.mean(axis=0)


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: Manifest
    eval: EvalRecord

    def stage_path(self, k: int) -> Path:
        return self.path / self.manifest.stages[k - 1].file


def is_file(path: Path) -> bool:
    """``path.is_file()``, false too for a path the OS refuses (a name too long, ...)."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, false too for a path the OS refuses (a name too long, ...)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_bundle(path: str | os.PathLike, verify: bool = False) -> Bundle:
    """Read and validate a bundle folder; ``verify`` also checks every stage's sha256."""
    root = Path(path)
    if not is_dir(root):
        raise BundleError(f"{root}: model bundle folder not found")
    manifest = read_manifest(root / "manifest.json")
    for st in manifest.stages:
        if not is_file(root / st.file):
            raise BundleError(f"{root / 'manifest.json'}: stages[{st.index - 1}].file: "
                              f"{st.file} is missing from the bundle")
        if verify:
            digest = sha256_file(root / st.file)
            if digest != st.sha256:
                raise BundleError(f"{root / st.file}: sha256 mismatch (manifest says "
                                  f"{st.sha256[:12]}..., file is {digest[:12]}...): "
                                  "the stage file was modified or corrupted")
    record = read_eval(root / "eval.npz", manifest.num_stages, len(manifest.classes))
    return Bundle(root, manifest, record)


def read_manifest(path: Path) -> Manifest:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{path}: manifest.json not found (is this a model bundle?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise BundleError(f"{path}: expected a JSON object")
    return parse_manifest(raw, str(path))


def _get(d: dict, key: str, types, where: str, file: str):
    if key not in d:
        raise BundleError(f"{file}: {where}{key}: missing field")
    value = d[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise BundleError(f"{file}: {where}{key}: expected {_tname(types)}, got {value!r}")
    if not isinstance(value, types):
        raise BundleError(f"{file}: {where}{key}: expected {_tname(types)}, got {value!r:.60}")
    return value


def _tname(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


def _nonneg(value, key: str, where: str, file: str):
    if isinstance(value, float) and not math.isfinite(value) or value < 0:
        raise BundleError(f"{file}: {where}{key}: expected a finite number >= 0, got {value!r}")
    return value


def parse_manifest(raw: dict, file: str = "manifest.json") -> Manifest:
    version = _get(raw, "format_version", int, "", file)
    if version != FORMAT_VERSION:
        raise BundleError(f"{file}: format_version: expected {FORMAT_VERSION}, got {version}")
    method = _get(raw, "method", str, "", file)
    if method not in METHODS:
        raise BundleError(f"{file}: method: expected one of {', '.join(METHODS)}, got {method!r}")
    classes = _get(raw, "classes", list, "", file)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise BundleError(f"{file}: classes: expected a non-empty list of class names")
    inp = _get(raw, "input", dict, "", file)
    shape = _get(inp, "shape", list, "input.", file)
    if len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape):
        raise BundleError(f"{file}: input.shape: expected [C, H, W] positive integers, got {shape}")
    for key in ("mean", "std"):
        vals = _get(inp, key, list, "input.", file)
        if len(vals) != shape[0] or not all(isinstance(v, (int, float)) for v in vals):
            raise BundleError(f"{file}: input.{key}: expected {shape[0]} numbers")
    incremental = _get(raw, "incremental", bool, "", file)
    if incremental != (method in INCREMENTAL_METHODS):
        raise BundleError(f"{file}: incremental: expected {method in INCREMENTAL_METHODS} "
                          f"for method {method}, got {incremental}")
    stages_raw = _get(raw, "stages", list, "", file)
    if not stages_raw:
        raise BundleError(f"{file}: stages: expected at least one stage")
    stages = tuple(_parse_stage(s, i, file, incremental) for i, s in enumerate(stages_raw))
    _check_cumulative(stages, incremental, file)
    return Manifest(
        format_version=version,
        name=_get(raw, "name", str, "", file),
        method=method,
        architecture=_get(raw, "architecture", str, "", file),
        dataset=_get(raw, "dataset", str, "", file),
        classes=tuple(classes),
        input=inp,
        incremental=incremental,
        original_macs=_nonneg(_get(raw, "original_macs", int, "", file), "original_macs", "", file),
        original_accuracy=float(_get(raw, "original_accuracy", (int, float), "", file)),
        stages=stages,
        training=_get(raw, "training", dict, "", file),
        raw=raw,
    )


def _parse_stage(s, i: int, file: str, incremental: bool) -> Stage:
    where = f"stages[{i}]."
    if not isinstance(s, dict):
        raise BundleError(f"{file}: stages[{i}]: expected an object")
    index = _get(s, "index", int, where, file)
    if index != i + 1:
        raise BundleError(f"{file}: {where}index: expected {i + 1}, got {index}")
    name = _get(s, "file", str, where, file)
    if os.path.basename(name) != name or name in ("", ".", "..") or not name.endswith(".onnx"):
        raise BundleError(f"{file}: {where}file: expected a plain .onnx file name inside the "
                          f"bundle folder, got {name!r}")
    ints = {k: _nonneg(_get(s, k, int, where, file), k, where, file)
            for k in ("macs", "macs_dense", "cumulative_macs", "params")}
    acc = float(_nonneg(_get(s, "accuracy", (int, float), where, file), "accuracy", where, file))
    if acc > 1.0:
        raise BundleError(f"{file}: {where}accuracy: expected a fraction in [0, 1], got {acc}")
    sha = _get(s, "sha256", str, where, file)
    if len(sha) != 64:
        raise BundleError(f"{file}: {where}sha256: expected 64 hex digits")
    extra = {k: v for k, v in s.items() if k not in STAGE_FIELDS}
    return Stage(index=index, file=name, sha256=sha, accuracy=acc, extra=extra, **ints)


def _check_cumulative(stages: tuple[Stage, ...], incremental: bool, file: str) -> None:
    total = 0
    for i, st in enumerate(stages):
        total = total + st.macs if incremental else st.macs
        if st.cumulative_macs != total:
            raise BundleError(f"{file}: stages[{i}].cumulative_macs: expected {total}, "
                              f"got {st.cumulative_macs}")


def read_eval(path: Path, num_stages: int, num_classes: int) -> EvalRecord:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise BundleError(f"{path}: eval record not found") from None
    except Exception as exc:  # numpy raises many types for corrupted archives
        raise BundleError(f"{path}: not a readable .npz eval record ({exc})") from None
    for key in ("labels", "pred", "conf", "sample_ids", "split"):
        if key not in data:
            raise BundleError(f"{path}: missing array {key!r}")
    labels, pred, conf, ids = data["labels"], data["pred"], data["conf"], data["sample_ids"]
    s = labels.shape[0] if labels.ndim == 1 else -1
    if s <= 0:
        raise BundleError(f"{path}: labels: expected a non-empty 1-D array")
    for key, arr in (("pred", pred), ("conf", conf)):
        if arr.shape != (s, num_stages):
            raise BundleError(f"{path}: {key}: expected shape ({s}, {num_stages}), got {arr.shape}")
    if ids.shape != (s,):
        raise BundleError(f"{path}: sample_ids: expected shape ({s},), got {ids.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or not np.issubdtype(pred.dtype, np.integer):
        raise BundleError(f"{path}: labels/pred: expected integer arrays")
    if labels.min() < 0 or labels.max() >= num_classes or pred.min() < 0 or pred.max() >= num_classes:
        raise BundleError(f"{path}: labels/pred: expected class indices in [0, {num_classes})")
    if not np.all(np.isfinite(conf)) or conf.min() < 0 or conf.max() > 1:
        raise BundleError(f"{path}: conf: expected probabilities in [0, 1]")
    return EvalRecord(labels=labels.astype(np.int64), pred=pred.astype(np.int64),
                      conf=conf.astype(np.float32), sample_ids=ids.astype(np.int64),
                      split=str(data["split"]))


def write_eval(path: Path, record: EvalRecord) -> None:
    with open(path, "wb") as f:
        np.savez_compressed(f, labels=record.labels, pred=record.pred, conf=record.conf,
                            sample_ids=record.sample_ids, split=np.array(record.split))


def write_manifest(path: Path, manifest: dict) -> None:
    """Validate (by parsing) and write; the caller writes into a temporary folder first."""
    parse_manifest(manifest, str(path))
    path.write_text(json.dumps(manifest, indent=2) + "\n")
