"""`testbed profile models/NAME`: per-stage latency on this host with ONNX Runtime, and the
cost of chaining against monolithic subnet graphs (see :mod:`testbed.profile`)."""

from __future__ import annotations

HELP = "Measure each stage's latency with ONNX Runtime on this host."

EPILOG = """\
examples:
  testbed profile models/lenet5-cifar10-steppingnet
  testbed profile models/lenet5-cifar10-steppingnet --threads 4 --repeats 200

Writes profile.json into the bundle; a scenario with cost_model: profiled reads it.
"""


def add_arguments(p):
    p.add_argument("bundle", help="model bundle folder")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("--batch", type=int, default=1, help="images per run")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    p.add_argument("--repeats", type=int, default=50, help="timed runs per measurement")


def run(args):
    from ..profile import profile_bundle
    res = profile_bundle(args.bundle, args.threads, args.batch, args.warmup, args.repeats)
    print(f"{res['bundle']}: ONNX Runtime {res['onnxruntime']}, {res['threads']} thread(s), "
          f"batch {res['batch']}, {res['repeats']} repeats on {res['host']['cpu']}")
    print(f"{'stage':>5}  {'MACs':>13}  {'median ms':>9}  {'p95 ms':>8}  {'GMAC/s':>7}")
    for st in res["stages"]:
        rate = st["macs_dense"] / st["median_ms"] / 1e6 * args.batch
        print(f"{st['index']:>5}  {st['macs_dense']:>13,}  {st['median_ms']:>9.3f}  "
              f"{st['p95_ms']:>8.3f}  {rate:>7.2f}")
    for row in res["reach"] or []:
        print(f"subnet {row['subnet']}: chained 1..{row['subnet']} {row['chained']['median_ms']:.3f} ms, "
              f"monolithic {row['monolithic']['median_ms']:.3f} ms (ratio {row['ratio']:.3f}), "
              f"fused stages {row['fused']['median_ms']:.3f} ms (ratio {row['ratio_fused']:.3f})")
    print(f"wrote {args.bundle}/profile.json")
