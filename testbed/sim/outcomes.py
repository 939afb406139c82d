"""What a system's classifier says about each frame: its verdict after every step.

Replayed from the bundle's ``eval.npz`` (the default: fast and exact) or computed by
running the ONNX stages on the real images (:mod:`testbed.sim.live`); the processor looks
rows up by sample id and never cares which. Stored as nested lists because the engine
reads single cells, which is faster on lists than on numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bundle import Bundle


@dataclass(frozen=True)
class Outcomes:
    row_of: dict[int, int]      # sample id -> row
    correct: list[list[bool]]   # [row][k-1]: step k classifies the sample right
    conf: list[list[float]]     # [row][k-1]: max softmax probability after step k


def from_arrays(sample_ids: np.ndarray, labels: np.ndarray, pred: np.ndarray,
                conf: np.ndarray) -> Outcomes:
    return Outcomes({int(s): i for i, s in enumerate(np.asarray(sample_ids).tolist())},
                    (pred == labels[:, None]).tolist(), np.asarray(conf, np.float64).tolist())


def replay_outcomes(bundle: Bundle) -> Outcomes:
    ev = bundle.eval
    return from_arrays(ev.sample_ids, ev.labels, ev.pred, ev.conf)
