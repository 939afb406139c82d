"""Which channel block ONNX Runtime's convolution kernels use on this host, measured.

Times one Conv (5×5 on 32×32, one thread, pinned to the last core) for 1 to 32 output
channels at a few input channel counts; a blocked kernel takes the same time for every
output count within one block and steps up at the block's edge (16 with AVX-512, 8 with
AVX2). This is what the latency model's ``block`` stands for (`testbed calibrate` picks it
by fit; this script shows it directly). Prints JSON; ``--out FILE`` also writes it.

    python scripts/conv_blocks.py --out reports/bench/conv_blocks-avx2.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

OUTPUTS = (1, 4, 8, 9, 12, 16, 17, 24, 32)
INPUTS = (3, 16, 32)


def conv_session(c_in: int, c_out: int, side: int = 32, kernel: int = 5):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(
        rng.standard_normal((c_out, c_in, kernel, kernel)).astype(np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(c_out, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, side, side])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def time_us(session, x: np.ndarray, rounds: int, runs: int) -> float:
    """The fastest of ``rounds`` rounds' 20th-percentile time (µs): robust to a shared
    host's slow spells, which only ever add time."""
    feed = {"x": x}
    for _ in range(50):
        session.run(None, feed)
    best = np.inf
    for _ in range(rounds):
        t = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(None, feed)
            t.append(time.perf_counter() - start)
        best = min(best, float(np.percentile(t, 20)))
    return best * 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from testbed.profile import host_info
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    rows = []
    for c_in in INPUTS:
        x = np.random.default_rng(1).standard_normal((1, c_in, 32, 32)).astype(np.float32)
        for c_out in OUTPUTS:
            rows.append({"c_in": c_in, "c_out": c_out,
                         "us": round(time_us(conv_session(c_in, c_out), x, args.rounds,
                                             args.runs), 1)})
    import onnxruntime
    doc = {"command": "python scripts/conv_blocks.py" + (f" --out {args.out}" if args.out else ""),
           "host": {**host_info(), "core": core, "onnxruntime": onnxruntime.__version__},
           "conv": "5x5 on 32x32, one thread", "rows": rows}
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
