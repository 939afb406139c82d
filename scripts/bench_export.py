#!/usr/bin/env python
"""Benchmark of exported stage graphs (issue 5, point 5); prints one JSON document.

For each stage: MACs, measured latency (ONNX Runtime, this host) and MAC/s; the
chained-over-monolithic latency ratio for every subnet k (``ratio``: against the dense
subnet-k graph; ``ratio_fused``: against stages 1..k fused into one graph, i.e. the
overhead of chaining itself); the correlation between
executed MACs and latency over all graphs timed; and the work saved by reuse: MACs to
reach subnet K by stepping 1 -> K with the incremental bundle vs recomputing every width
from scratch with a slimmable network of the same subnet MAC targets.

Without ``--bundle`` it builds an (untrained: latency does not depend on the weight
values) LeNet-3C1L with the regular any-width assignment for the targets below, which
gives SteppingNet's stage structure (block lower-triangular after re-indexing), exports it
on the synthetic dataset into a temporary folder and profiles that.

    python scripts/bench_export.py                       # generated lenet3c1l, batch 1
    python scripts/bench_export.py --bundle models/NAME --slimmable models/OTHER
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

TARGETS = (0.10, 0.30, 0.50, 0.85)   # subnet MACs / original MACs (the planned bundles)
MAX_RATIO = 1.15                       # target: chaining costs <= 15% over monolithic


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", help="incremental bundle to profile (default: generate one)")
    p.add_argument("--slimmable", help="non-incremental bundle for the reuse comparison")
    p.add_argument("--arch", default="lenet3c1l")
    p.add_argument("--width", type=float, default=1.0, help="expanded width when generating")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)
    from testbed.profile import profile_bundle
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.bundle) if args.bundle else generate(args.arch, args.width, Path(tmp))
        prof = profile_bundle(path, args.threads, args.batch, args.warmup, args.repeats, write=False)
        recompute = recompute_cost(args, len(prof["stages"]))
    out = {"command": " ".join(["python", "scripts/bench_export.py", *(argv if argv is not None else sys.argv[1:])]),
           **report(prof, args, recompute)}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


def generate(arch: str, width: float, tmp: Path) -> Path:
    import torch
    from testbed.cost import original_macs
    from testbed.export.writer import export_model
    from testbed.nets import NestedNet
    from testbed.nets.anywidth import assign
    torch.manual_seed(0)
    net = NestedNet(arch, width, 10, len(TARGETS))
    net.set_steps([torch.as_tensor(s) for s in assign(arch, width, TARGETS).steps])
    meta = {"method": "steppingnet", "arch": arch, "dataset": "synthetic",
            "classes": [f"class{i}" for i in range(10)],
            "input": {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3},
            "original_macs": original_macs(arch, 10, (3, 32, 32)), "original_accuracy": 0.0,
            "training": {"recipe": "bench (untrained, any-width assignment)", "targets": TARGETS}}
    return export_model(net.eval(), meta, tmp / f"{arch}-bench", limit=64, threads=1)


def recompute_cost(args, k: int) -> dict:
    """MACs of stepping 1 -> K by recomputing: a slimmable bundle, or SlimmableNet widths
    solved for the same targets."""
    if args.slimmable:
        from testbed.bundle import load_bundle
        man = load_bundle(args.slimmable).manifest
        return {"source": str(args.slimmable), "per_subnet": [s.macs for s in man.stages]}
    from testbed.nets.widths import solve_all
    sols = solve_all(args.arch, TARGETS[:k])
    return {"source": f"SlimmableNet({args.arch}) widths solved for targets {list(TARGETS[:k])}",
            "per_subnet": [s.macs for s in sols]}


def report(prof: dict, args, recompute: dict) -> dict:
    stages = [{"index": s["index"], "macs": s["macs"], "macs_dense": s["macs_dense"],
               "median_ms": s["median_ms"], "p95_ms": s["p95_ms"],
               "gmacs_per_s": s["macs_dense"] * prof["batch"] / s["median_ms"] / 1e6}
              for s in prof["stages"]]
    reach = prof["reach"] or []
    chaining = [{"subnet": r["subnet"], "chained_ms": r["chained"]["median_ms"],
                 "monolithic_ms": r["monolithic"]["median_ms"], "ratio": r["ratio"],
                 "fused_ms": r["fused"]["median_ms"], "ratio_fused": r["ratio_fused"],
                 "chained_macs_dense": r["chained_macs_dense"],
                 "monolithic_macs_dense": r["monolithic_macs_dense"]} for r in reach]
    macs = [s["macs_dense"] for s in stages] + [r["monolithic_macs_dense"] for r in chaining]
    lat = [s["median_ms"] for s in stages] + [r["monolithic_ms"] for r in chaining]
    stepping = sum(s["macs"] for s in stages)
    again = sum(recompute["per_subnet"])
    return {
        "bundle": prof["bundle"], "host": prof["host"], "onnxruntime": prof["onnxruntime"],
        "threads": prof["threads"], "batch": prof["batch"], "repeats": prof["repeats"],
        "stages": stages, "chaining": chaining,
        "max_ratio": max((c["ratio"] for c in chaining), default=None),
        "max_ratio_fused": max((c["ratio_fused"] for c in chaining), default=None),
        "target_max_ratio": MAX_RATIO,
        "target_met": all(c["ratio"] <= MAX_RATIO for c in chaining) if chaining else None,
        "target_met_vs_fused": all(c["ratio_fused"] <= MAX_RATIO for c in chaining) if chaining else None,
        "latency_vs_macs": {"pearson_r": float(np.corrcoef(macs, lat)[0, 1]), "points": len(macs),
                            "over": "stage graphs + monolithic subnet graphs: macs_dense vs median"},
        "reuse": {"stepping_macs_1_to_K": stepping, "recompute_macs_1_to_K": again,
                  "saved_fraction": 1 - stepping / again, "recompute": recompute},
    }


if __name__ == "__main__":
    sys.exit(main())
