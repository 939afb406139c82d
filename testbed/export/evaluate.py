"""The eval record (eval.npz, DESIGN §3): the exported stage graphs themselves, chained in
ONNX Runtime, classify the test split batch by batch; per sample and stage the predicted
class and the max softmax probability are kept, with labels and sample ids. The
manifest's per-stage accuracy is computed from this record, never from PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..bundle import EvalRecord
from .runtime import Chain, softmax_top


def normalized(images_u8: np.ndarray, mean, std) -> np.ndarray:
    """uint8 [N,C,H,W] -> float32 standardised per channel (as testbed.data.normalize)."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return (images_u8.astype(np.float32) / np.float32(255.0) - m) / s


def evaluate_chain(chain: Chain, images_u8: np.ndarray, labels: np.ndarray, mean, std,
                   split: str = "test", batch_size: int = 256) -> EvalRecord:
    n, k = len(labels), len(chain.sessions)
    pred = np.zeros((n, k), dtype=np.int64)
    conf = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, batch_size):
        x = normalized(images_u8[start:start + batch_size], mean, std)
        for j, logits in enumerate(chain.run(x)):
            pred[start:start + len(x), j], conf[start:start + len(x), j] = softmax_top(logits)
    return EvalRecord(labels=np.asarray(labels, dtype=np.int64), pred=pred, conf=conf,
                      sample_ids=np.arange(n, dtype=np.int64), split=split)
