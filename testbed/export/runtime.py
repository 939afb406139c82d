"""Running stage graphs in ONNX Runtime: one session per stage and the chaining rule of
DESIGN §3 (stage k+1's ``logits_in`` <- stage k's ``logits``, ``state_in.X`` <-
``state.X``). Used by export (verification, eval record), ``profile``, ``inspect`` and
the simulator's live mode; imports neither torch nor onnx.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import BundleError


def make_session(model, threads: int | None = None, label: str = "graph"):
    """An ORT CPU session from a path, serialized bytes or an ``onnx.ModelProto``."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or 0
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    source = model.SerializeToString() if hasattr(model, "SerializeToString") else model
    source = os.fspath(source) if isinstance(source, os.PathLike) else source
    try:
        return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises several private exception types
        raise BundleError(f"{label}: ONNX Runtime cannot load it ({exc})") from None


def carried_name(input_name: str) -> str | None:
    """Which output of the previous stage feeds this input (None: the image)."""
    if input_name == "logits_in":
        return "logits"
    if input_name.startswith("state_in."):
        return "state." + input_name[len("state_in."):]
    return None


class Chain:
    """Stage sessions wired together; ``labels`` name the stages in error messages."""

    def __init__(self, sessions: list, labels: list[str] | None = None):
        self.sessions = sessions
        self.labels = labels or [f"stage {k}" for k in range(1, len(sessions) + 1)]
        self.inputs = [[i.name for i in s.get_inputs()] for s in sessions]
        self.outputs = [[o.name for o in s.get_outputs()] for s in sessions]
        self.check_wiring()

    def check_wiring(self) -> None:
        for k, names in enumerate(self.inputs):
            if "image" not in names:
                raise BundleError(f"{self.labels[k]}: has no 'image' input")
            given = set(self.outputs[k - 1]) if k > 0 else set()
            for name in names:
                src = carried_name(name)
                if src is not None and src not in given:
                    raise BundleError(f"{self.labels[k]}: input {name!r} needs output {src!r} "
                                      f"of the previous stage, which does not produce it")
            if "logits" not in self.outputs[k]:
                raise BundleError(f"{self.labels[k]}: has no 'logits' output")

    def step(self, k: int, image: np.ndarray, carry: dict | None) -> dict:
        """Run stage k (1-based) given the previous stage's outputs; return its outputs.
        (Plain numpy feeds: on ORT 1.30-1.32 ``run_with_ort_values`` measured slower.)"""
        feed = {}
        for name in self.inputs[k - 1]:
            src = carried_name(name)
            feed[name] = image if src is None else carry[src]
        return dict(zip(self.outputs[k - 1], self.sessions[k - 1].run(None, feed)))

    def run(self, image: np.ndarray, upto: int | None = None) -> list[np.ndarray]:
        """Logits after each stage 1..upto (default all)."""
        carry, logits = None, []
        for k in range(1, (upto or len(self.sessions)) + 1):
            carry = self.step(k, image, carry)
            logits.append(carry["logits"])
        return logits


def chain_from_files(paths: list, threads: int | None = None) -> Chain:
    sessions = [make_session(p, threads, label=str(p)) for p in paths]
    return Chain(sessions, [str(p) for p in paths])


def softmax_top(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, max softmax probability) per row."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return logits.argmax(axis=1).astype(np.int64), p.max(axis=1).astype(np.float32)
