"""Export's built-in verification (issue 5, point 2): every stage graph passes the ONNX
checker with full shape inference, the MACs counted from its Conv/Gemm/MatMul nodes equal
the training-side ``macs_dense``, and chained ONNX Runtime logits match the PyTorch
subnets. Any failure raises :class:`ExportError`, before anything is written.
"""

from __future__ import annotations

import numpy as np
import onnx

from ..errors import TestbedError
from .onnx_macs import count_macs

PARITY_TOL = 1e-4


class ExportError(TestbedError):
    """A stage graph failed verification; the bundle was not written."""


def check_graphs(models: list[onnx.ModelProto], labels: list[str]) -> None:
    for model, label in zip(models, labels):
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as exc:  # checker and shape inference raise several types
            raise ExportError(f"{label}: fails onnx.checker ({exc})") from None


def check_macs(models: list[onnx.ModelProto], macs_dense: list[int], labels: list[str]) -> list[int]:
    counted = [count_macs(m) for m in models]
    for label, got, want in zip(labels, counted, macs_dense):
        if got != want:
            raise ExportError(f"{label}: the graph executes {got:,} MACs (counted from its "
                              f"Conv/Gemm/MatMul nodes) but macs_dense is {want:,}")
    return counted


def check_parity(onnx_logits: list[np.ndarray], torch_logits: list[np.ndarray],
                 labels: list[str], tol: float = PARITY_TOL) -> float:
    """Largest |ONNX - PyTorch| over all subnets; raises when above ``tol``."""
    worst = 0.0
    for label, got, want in zip(labels, onnx_logits, torch_logits):
        diff = float(np.max(np.abs(got - want))) if got.size else 0.0
        if not diff <= tol:
            raise ExportError(f"{label}: chained ONNX Runtime logits differ from the PyTorch "
                              f"subnet by {diff:.3g} (tolerance {tol:g})")
        worst = max(worst, diff)
    return worst
