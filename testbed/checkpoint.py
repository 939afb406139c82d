"""Checkpoints: the file ``testbed train`` writes and ``testbed export`` reads.

A checkpoint holds the model's ``config()`` (enough to rebuild it through
:data:`testbed.nets.MODEL_KINDS`), its ``state_dict`` (weights, step assignments and
pruning masks are all buffers or parameters) and a free-form ``meta`` dict (method,
dataset, recipe, accuracies, training record). Writes are atomic: a temporary file in the
same folder, then ``os.replace``, so an interrupted run never leaves a torn checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .errors import TestbedError

FORMAT = "testbed.checkpoint/1"


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"format": FORMAT, "config": model.config(), "state_dict": state,
                       "meta": meta}, path)


def load_checkpoint(path: str | os.PathLike):
    """Return ``(model, meta)``; the model is in eval mode on the CPU."""
    from .nets import build_model
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TestbedError(f"{path}: checkpoint not found") from None
    except Exception as exc:
        raise TestbedError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise TestbedError(f"{path}: not a testbed checkpoint (expected format {FORMAT})")
    model = build_model(blob["config"])
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise TestbedError(f"{path}: state_dict does not fit its config ({exc})") from None
    model.eval()
    return model, blob["meta"]
