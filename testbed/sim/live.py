"""Live mode: classify the frames' real images with the bundle's ONNX stages.

Instead of replaying ``eval.npz``, :func:`testbed.sim.engine.simulate` (``live=``) asks a
:class:`LiveRunner` for the verdict of every stage on each sample the frames show. The
runner loads the images with :mod:`testbed.data` (the split named in the eval record),
normalises them with the manifest's mean/std, runs the chained stage graphs in ONNX
Runtime (:mod:`testbed.export.runtime`) and reports how often its predictions agree with
the replay, which they must. torch and onnxruntime are imported only when it runs.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ..bundle import Bundle
from ..errors import BundleError
from .outcomes import Outcomes, from_arrays

ImageSource = Callable[[str, str], np.ndarray]  # (dataset, split) -> uint8 [N, C, H, W]


class LiveRunner:
    def __init__(self, data_root: str | os.PathLike | None = None, *, batch_size: int = 512,
                 threads: int | None = None, images: ImageSource | None = None):
        self.data_root, self.batch_size, self.threads = data_root, batch_size, threads
        self._source = images or self._load_split
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def outcomes(self, bundle: Bundle, sample_ids: list[int]) -> tuple[Outcomes, float]:
        """Verdicts on ``sample_ids`` and the fraction of (sample, stage) predictions that
        agree with the bundle's eval record."""
        ids = np.asarray(sample_ids, dtype=np.int64)
        rows = _rows(bundle, ids)
        pred, conf = self.classify(bundle, self.images(bundle)[ids])
        agreement = float(np.mean(pred == bundle.eval.pred[rows])) if len(ids) else 1.0
        return from_arrays(ids, bundle.eval.labels[rows], pred, conf), agreement

    def images(self, bundle: Bundle) -> np.ndarray:
        key = (bundle.manifest.dataset, bundle.eval.split)
        if key not in self._cache:
            self._cache[key] = self._source(*key)
        return self._cache[key]

    def classify(self, bundle: Bundle, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pred, conf), each [n, K], of every stage on uint8 images [n, C, H, W]."""
        from ..export.runtime import chain_from_files, softmax_top

        k = bundle.manifest.num_stages
        chain = chain_from_files([bundle.stage_path(i) for i in range(1, k + 1)], self.threads)
        pred, conf = np.zeros((len(pixels), k), np.int64), np.zeros((len(pixels), k), np.float32)
        for start in range(0, len(pixels), self.batch_size):
            batch = normalise(pixels[start:start + self.batch_size], bundle.manifest.input)
            part = slice(start, start + len(batch))
            for i, logits in enumerate(chain.run(batch)):
                pred[part, i], conf[part, i] = softmax_top(logits)
        return pred, conf

    def _load_split(self, dataset: str, split: str) -> np.ndarray:
        from ..data.datasets import load_split

        return load_split(dataset, self.data_root, split).images.numpy()


def normalise(pixels: np.ndarray, spec: dict) -> np.ndarray:
    """uint8 [n, C, H, W] -> float32, scaled to [0, 1] then standardised per channel."""
    mean = np.asarray(spec["mean"], np.float32)[None, :, None, None]
    std = np.asarray(spec["std"], np.float32)[None, :, None, None]
    return (pixels.astype(np.float32) / 255.0 - mean) / std


def _rows(bundle: Bundle, ids: np.ndarray) -> np.ndarray:
    order = np.argsort(bundle.eval.sample_ids)
    pos = np.searchsorted(bundle.eval.sample_ids, ids, sorter=order)
    pos = np.minimum(pos, len(order) - 1)
    rows = order[pos]
    if len(ids) and not np.array_equal(bundle.eval.sample_ids[rows], ids):
        raise BundleError(f"{bundle.path}: eval.npz has no row for some frame samples")
    return rows
