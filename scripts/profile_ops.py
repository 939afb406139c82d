"""Per-operator time of one ONNX stage graph in ONNX Runtime (one thread, its profiler).

    python scripts/profile_ops.py models/lenet3c1l-cifar10-steppingnet/stage_2.onnx [--runs 300]

Prints each node's median kernel time (µs) over the runs, slowest first: which operator a
graph's latency goes to, and which kernel ONNX Runtime chose for it (e.g. a Conv renamed
``*_nchwc`` runs in the blocked NCHWc kernels). Inputs are random, of the graph's shapes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np


def profile(path: str, runs: int, top: int) -> list[tuple[str, str, float]]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
             .astype(np.float32) for i in session.get_inputs()}
    for _ in range(runs):
        session.run(None, feeds)
    trace = session.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    times: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = (e["name"][:-len("_kernel_time")], e["args"].get("op_name", "?"))
            times.setdefault(key, []).append(e["dur"])
    rows = [(node, op, float(np.median(d))) for (node, op), d in times.items()]
    return sorted(rows, key=lambda r: -r[2])[:top]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph", help="an ONNX stage graph")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args(argv)
    if not os.path.isfile(a.graph):
        print(f"{a.graph}: no such file (expected an ONNX stage graph)", file=sys.stderr)
        return 2
    for node, op, us in profile(a.graph, a.runs, a.top):
        print(f"{node:30s} {op:14s} {us:8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
