"""Probe: does the joint any-width step collapse the small subnets?

Trains the any-width assignment of ``recipes/cpu-lenet3c1l-anywidth.yaml`` (same
architecture, width, targets, optimiser, teacher distillation) for a few hundred batches
with the subnet losses summed or averaged, and prints JSON lines: the per-subnet loss on
the current batch and the test accuracy of every subnet on 500 strided test images.

    python scripts/probe_joint_loss.py --loss sum --batches 160 --data-root ../shared/data
    python scripts/probe_joint_loss.py --loss mean --batches 40 --data-root ../shared/data

Needs the recipe's cached teacher (runs/teachers/, written by `testbed train` of any
cpu-lenet3c1l recipe). About 2 s per batch on one core.
"""

from __future__ import annotations

import argparse
import json

import torch

from testbed.data import load_split
from testbed.nets import NestedNet
from testbed.nets.anywidth import assign
from testbed.train import compact
from testbed.train.common import BatchStream, distill_loss, evaluate, lr_at, make_sgd, sgd_step
from testbed.train.recipe import load_recipe
from testbed.train.teacher import get_teacher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loss", choices=["sum", "mean"], required=True)
    ap.add_argument("--batches", type=int, default=160)
    ap.add_argument("--every", type=int, default=40)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--recipe", default="recipes/cpu-lenet3c1l-anywidth.yaml")
    ap.add_argument("--teacher-cache", default="runs/teachers")
    args = ap.parse_args()
    torch.set_num_threads(1)
    r = load_recipe(args.recipe)
    train = load_split(r.dataset, args.data_root, "train")
    test = load_split(r.dataset, args.data_root, "test")
    teacher = get_teacher(r, train, test, "cpu", args.teacher_cache, show_progress=False).model
    plan = assign(r.arch, r.width, r.targets, len(train.classes), train.info.shape)
    torch.manual_seed(0)
    net = NestedNet(r.arch, r.width, len(train.classes), r.num_steps, train.info.shape)
    net.set_steps(plan.steps)
    opt = make_sgd(net.parameters(), r.optimizer)
    stream = BatchStream(train, r.batch_size, (r.seed, "probe"))
    ks = list(range(r.num_steps, 0, -1))
    lr = lr_at(r.schedule, r.optimizer.lr, 0.0)
    for b in range(1, args.batches + 1):
        net.train()
        x, y = stream.next()
        with torch.no_grad():
            t = teacher(x)
        losses = {k: distill_loss(compact.forward(net, x, k), t, y, r.params.gamma) for k in ks}
        total = sum(losses.values()) / (len(ks) if args.loss == "mean" else 1)
        opt.zero_grad(set_to_none=True)
        total.backward()
        sgd_step(opt, lr, r.optimizer.weight_decay)
        if b % args.every == 0:
            acc = evaluate(net, lambda v: compact.forward_all(net, v), test, "cpu", 500)
            print(json.dumps({"loss_mode": args.loss, "batch": b,
                              "loss": [round(float(losses[k].detach()), 3) for k in sorted(losses)],
                              "accuracy": [round(a, 3) for a in acc]}), flush=True)


if __name__ == "__main__":
    main()
