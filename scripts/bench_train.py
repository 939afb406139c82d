#!/usr/bin/env python
"""Trainer speed benchmark (issue 19, point 1); prints one JSON document and writes it to
``reports/bench/bench_train.json``.

Samples per second of the three kinds of training step, on synthetic CIFAR-shaped batches
of 128 (speed does not depend on the pixels):

* ``teacher``: the width-1.0 network, forward + cross-entropy + backward + SGD step;
* ``construction``: the expanded network (the recipe's width, 4 subnets with a random
  assignment), every subnet trained on the batch with importance gates and straight-through
  pruning, as :meth:`SteppingNetRun._construction_round` does;
* ``retraining``: the same, with the teacher's logits and the distillation loss.

Each measurement runs in a child process (fresh interpreter, ``torch.set_num_threads``)
that imports the ``testbed`` package from a given tree: this checkout ("after", with the
recipe defaults: channels_last batches, fused BatchNorm; and with ``precision: bf16``) and,
with ``--baseline DIR`` (e.g. ``git worktree add /tmp/base 1ff82d8``), an earlier tree
("before": NCHW, fp32). Variants are interleaved round by round, so drift on a shared host
hits all alike; the best round (other work on the host only ever adds time) is reported,
with the median beside it, and the speed-up against "before".

With ``--accuracy DATA_ROOT`` it also trains the LeNet-3C1L teacher for ``--epochs`` epochs
on CIFAR-10 in fp32 and in bf16 (same seed) and reports both test accuracies: whether bf16
costs accuracy.

    python scripts/bench_train.py --baseline /tmp/base                    # the JSON in reports/bench
    python scripts/bench_train.py --baseline /tmp/base --accuracy ../shared/data --epochs 3
    python scripts/bench_train.py --rounds 1 --steps 2                      # smoke
    python scripts/bench_train.py --no-speed --accuracy ../shared/data --epochs 30 \
        --out reports/bench/bf16_accuracy_30ep.json                      # accuracy only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("teacher", "construction", "retraining")
# (arch, width of the expanded net, torch threads): LeNet-5 is also timed on 1 thread,
# where it runs steadier on a shared host (issue 19)
NETS = (("lenet3c1l", 1.8, 2), ("lenet5", 2.0, 2), ("lenet5", 2.0, 1))


def child(root: str, arch: str, width: float, phase: str, threads: int, channels_last: bool,
          bf16: bool, warmup: int, steps: int) -> dict:
    """One measurement, in this (child) process: seconds per batch of ``phase``."""
    sys.path.insert(0, root)
    import torch
    import torch.nn.functional as F
    from testbed.nets import NestedNet
    from testbed.train import compact
    from testbed.train.common import distill_loss
    from testbed.train.importance import new_gates
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    cast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    teacher = NestedNet(arch, 1.0, 10, 1)
    net = NestedNet(arch, width, 10, 4)
    net.set_steps([torch.randint(1, 6, layer.step.shape) for layer in net.hidden])
    model = teacher if phase == "teacher" else net
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with torch.no_grad():
        soft = teacher.eval()(x) if phase == "retraining" else None

    def step():
        ks = [None] if phase == "teacher" else range(1, 5)
        for k in ks:
            with cast():
                if phase == "teacher":
                    loss = F.cross_entropy(model(x), y)
                else:
                    gates = new_gates(net) if phase == "construction" else None
                    logits = compact.forward(net, x, k, gates, phase == "construction")
                    loss = distill_loss(logits, soft, y, 0.4 if soft is not None else 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    model.train()
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return {"s_per_batch": (time.perf_counter() - start) / steps}


def variants(baseline: str | None) -> list[tuple[str, str, bool, bool]]:
    """(name, tree, channels_last, bf16)."""
    out = [("after", str(ROOT), True, False), ("after_bf16", str(ROOT), True, True)]
    if baseline:
        out.insert(0, ("before", baseline, False, False))
    return out


def run_child(tree: str, arch: str, width: float, phase: str, threads: int, cl: bool, bf16: bool,
              warmup: int, steps: int) -> float:
    cmd = [sys.executable, __file__, "--child", json.dumps([tree, arch, width, phase, threads, cl,
                                                             bf16, warmup, steps])]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])["s_per_batch"]


def speed(args) -> list[dict]:
    rows = []
    for arch, width, threads in NETS:
        for phase in PHASES:
            times = {name: [] for name, *_ in variants(args.baseline)}
            for _ in range(args.rounds):
                for name, tree, cl, bf16 in variants(args.baseline):
                    times[name].append(run_child(tree, arch, width, phase, threads, cl, bf16,
                                                 args.warmup, args.steps))
            row = {"arch": arch, "threads": threads, "phase": phase}
            for name, t in times.items():
                s = min(t)  # the least disturbed round: other work on a shared host only adds
                row[name] = {"samples_per_s": round(128 / s, 1), "ms_per_batch": round(s * 1e3, 2),
                             "median_ms_per_batch": round(statistics.median(t) * 1e3, 2),
                             "rounds_ms": [round(v * 1e3, 2) for v in t]}
            if "before" in times:
                for name in times:
                    if name != "before":
                        row[f"speedup_{name}"] = round(row[name]["samples_per_s"]
                                                       / row["before"]["samples_per_s"], 2)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    return rows


def accuracy(args) -> dict:
    """LeNet-3C1L teacher, ``--epochs`` epochs on CIFAR-10, fp32 vs bf16 (same seed)."""
    import tempfile
    sys.path.insert(0, str(ROOT))
    from testbed.train.recipe import parse_recipe
    from testbed.train.runner import run_training
    out = {}
    for precision in ("fp32", "bf16"):
        raw = {"name": f"bench-teacher-{precision}", "method": "static", "arch": "lenet3c1l",
               "dataset": "cifar10", "seed": 0, "teacher": {"epochs": args.epochs},
               "compute": {"precision": precision}, "static": {"samples": 128}}
        recipe = parse_recipe(raw, None)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = run_training(recipe, args.accuracy, Path(tmp) / "run", show_progress=False,
                                   teacher_cache=Path(tmp) / "teachers")
            out[precision] = {"teacher_accuracy": round(summary["original_accuracy"], 4),
                              "wall_s": round(time.perf_counter() - start, 1)}
        print(json.dumps({precision: out[precision]}), file=sys.stderr)
    return {"arch": "lenet3c1l", "epochs": args.epochs, **out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--baseline", help="an earlier checkout to time as 'before'")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=6, help="timed batches per measurement")
    p.add_argument("--accuracy", metavar="DATA_ROOT", help="also compare fp32/bf16 teachers")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--no-speed", action="store_true", help="skip the speed measurements")
    p.add_argument("--out", default=str(ROOT / "reports" / "bench" / "bench_train.json"))
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    import platform
    result = {"command": "python scripts/bench_train.py " + " ".join(sys.argv[1:]),
              "host": {"cpu_count": os.cpu_count(), "machine": platform.machine(),
                       "load_before": os.getloadavg()},
              "batch": 128, "speed": None if args.no_speed else speed(args)}
    if args.accuracy:
        result["bf16_accuracy"] = accuracy(args)
    result["host"]["load_after"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
