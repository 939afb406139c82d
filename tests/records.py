"""Comparing simulator records across hosts: discrete outcomes exactly, floats computed by
ONNX Runtime, numpy or torch within a tolerance that holds on any x86-64 CPU.

ONNX Runtime picks its kernels by CPU (AVX2, AVX-512, VNNI; Intel and AMD differ), so the
same stage graph can give softmax confidences that differ in the last bits (~1e-7 seen on
AMD EPYC against Intel Xeon). What a record *decides* (steps, hits, correctness) must not
differ; the confidence it carries may, by float32 rounding.
"""

import math

# float32 has a 2**-24 ~ 6e-8 unit roundoff; a few ulps of a softmax over 10 classes.
CONF_ABS = 1e-5


def assert_records_agree(live, replay, conf_abs: float = CONF_ABS) -> None:
    """Same records in the same order; every field equal except floats that come from a
    network's output (``confidence``), which agree within ``conf_abs``."""
    assert len(live) == len(replay)
    for a, b in zip(live, replay):
        assert a._replace(confidence=0.0) == b._replace(confidence=0.0), (a, b)
        assert math.isclose(a.confidence, b.confidence, rel_tol=0, abs_tol=conf_abs), (a, b)
