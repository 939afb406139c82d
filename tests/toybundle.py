"""Toy model bundles for tests: valid per :mod:`testbed.bundle`, no training needed.

``make_toy_bundle(tmp_path / "toy")`` writes ``manifest.json``, ``eval.npz`` and small
placeholder ``stage_k.onnx`` files (not runnable graphs; their sha256 is in the manifest)
and returns the folder. Per-sample correctness is exact: stage k is right on exactly
``round(accuracies[k] * num_samples)`` samples (nested across stages for incremental
bundles), or exactly ``correct`` if given. Import it as ``from tests.toybundle import
make_toy_bundle`` (the repository root must be on ``sys.path``, as with ``python -m pytest``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from testbed.bundle import INCREMENTAL_METHODS, EvalRecord, sha256_file, write_eval, write_manifest

ORIGINAL_MACS = 10_570_944
SUBNET_FRACTIONS = (0.10, 0.30, 0.50, 0.85)  # of ORIGINAL_MACS: the planned real bundles
ACCURACIES = (0.45, 0.60, 0.68, 0.72)


def make_toy_bundle(path, *, method: str = "steppingnet", stage_macs=None, accuracies=ACCURACIES,
                    correct=None, num_samples: int = 200, classes: int = 10, seed: int = 0,
                    macs_dense=None, profile_ms=None) -> Path:
    """Write a bundle folder at ``path`` and return it.

    ``stage_macs``: the manifest's per-stage ``macs`` (for incremental methods the MACs a
    stage adds, for ``slimmable``/``static`` the whole subnet); default: subnets of
    10/30/50/85% of 10,570,944 MACs, one stage per entry of ``accuracies``.
    ``correct``: optional [num_samples, K] bool array; ``profile_ms``: per-stage median
    latencies to write a ``profile.json``."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    incremental = method in INCREMENTAL_METHODS
    rng = np.random.default_rng(seed)
    if correct is None:
        correct = _correctness(rng, accuracies, num_samples, incremental)
    correct = np.asarray(correct, dtype=bool)
    k = correct.shape[1]
    stage_macs = list(stage_macs) if stage_macs is not None else _default_macs(k, incremental)
    write_eval(root / "eval.npz", _eval(rng, correct, classes))
    manifest = _manifest(root, method, incremental, stage_macs, macs_dense or stage_macs,
                         correct, classes, seed)
    write_manifest(root / "manifest.json", manifest)
    if profile_ms is not None:
        stages = [{"index": i + 1, "median_ms": float(ms)} for i, ms in enumerate(profile_ms)]
        (root / "profile.json").write_text(json.dumps({"host": "toy", "stages": stages}) + "\n")
    return root


def make_toy_models(root) -> Path:
    """``root/models/step`` (a SteppingNet toy bundle) and ``root/models/slim`` (a slimmable
    one), the pair the end-to-end run, override and API tests share; returns ``root``."""
    root = Path(root)
    make_toy_bundle(root / "models" / "step", method="steppingnet")
    make_toy_bundle(root / "models" / "slim", method="slimmable", seed=1)
    return root


def _default_macs(k: int, incremental: bool) -> list[int]:
    fractions = np.linspace(0.1, 0.85, k) if k != 4 else np.array(SUBNET_FRACTIONS)
    totals = [round(f * ORIGINAL_MACS) for f in fractions]
    if not incremental:
        return totals
    return [totals[0]] + [b - a for a, b in zip(totals, totals[1:])]


def _correctness(rng, accuracies, n: int, incremental: bool) -> np.ndarray:
    """Stage k right on the best round(acc_k * n) samples of a random ranking (one
    ranking for all stages when incremental, so correctness is nested)."""
    ranks = [rng.permutation(n) for _ in accuracies]
    if incremental:
        ranks = [ranks[0]] * len(accuracies)
    return np.stack([r < round(a * n) for r, a in zip(ranks, accuracies)], axis=1)


def _eval(rng, correct: np.ndarray, classes: int) -> EvalRecord:
    n, k = correct.shape
    labels = rng.integers(0, classes, n)
    wrong = (labels[:, None] + rng.integers(1, classes, (n, k))) % classes
    pred = np.where(correct, labels[:, None], wrong)
    conf = np.where(correct, rng.uniform(0.6, 1.0, (n, k)), rng.uniform(0.2, 0.7, (n, k)))
    return EvalRecord(labels=labels, pred=pred, conf=conf.astype(np.float32),
                      sample_ids=np.arange(n), split="test")


def _manifest(root: Path, method: str, incremental: bool, macs, dense, correct, classes: int,
              seed: int) -> dict:
    stages, total = [], 0
    for i, (m, d) in enumerate(zip(macs, dense)):
        file = root / f"stage_{i + 1}.onnx"
        file.write_bytes(f"toy placeholder stage {i + 1} of {root.name}\n".encode())
        total = total + m if incremental else m
        stages.append({"index": i + 1, "file": file.name, "sha256": sha256_file(file),
                       "macs": int(m), "macs_dense": int(d), "cumulative_macs": int(total),
                       "params": int(m) // 100, "accuracy": float(correct[:, i].mean())})
    return {"format_version": 1, "name": root.name, "method": method, "architecture": "toy",
            "dataset": "toy", "classes": [f"class{c}" for c in range(classes)],
            "input": {"shape": [3, 8, 8], "mean": [0.5] * 3, "std": [0.25] * 3},
            "incremental": incremental, "original_macs": ORIGINAL_MACS,
            "original_accuracy": float(correct[:, -1].mean()), "stages": stages,
            "training": {"recipe": "toy", "seed": seed}}
