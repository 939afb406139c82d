"""Slimmable training (Yu et al., ICLR 2019; US-Nets' sandwich rule and in-place
distillation, ICCV 2019, as options), registered as method ``slimmable``.

Solves one width per MAC target (:mod:`testbed.nets.widths`: units per layer whose dense
MACs match ``target x original``), builds a :class:`~testbed.nets.slimmable.SlimmableNet`
and trains all widths jointly for the SteppingNet-matched budget (:mod:`.baseline`).
Optionally re-estimates every width's private BN statistics on training batches after
training (forward passes only: not counted in ``samples_seen``). The subnets are not
incremental: each exports as an independent graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets.slimmable import SlimmableNet
from ..nets.widths import solve_all
from .baseline import JointParams, JointRun, budget, init_seed
from .recipe import SECTIONS, knob
from .runner import METHODS, PREFLIGHT, Context, TrainResult


@SECTIONS.register("slimmable")
@dataclass(frozen=True)
class SlimmableParams(JointParams):
    inplace_distillation: bool = False     # US-Nets: smaller widths learn the widest's output
    bn_recalibration_batches: int = knob(0, lambda v: v >= 0, ">= 0")   # 0: off


PREFLIGHT.register("slimmable")(budget)


@METHODS.register("slimmable")
def train_slimmable(ctx: Context) -> TrainResult:
    r = ctx.recipe
    sol = solve_all(r.arch, r.targets, ctx.num_classes, ctx.train.info.shape)
    init_seed(r, "slimmable-init")
    net = SlimmableNet(r.arch, [s.width for s in sol], ctx.num_classes, ctx.train.info.shape,
                       [s.units for s in sol]).to(ctx.device)
    run = JointRun(ctx, net, net, net.forward_all, inplace=ctx.params.inplace_distillation)
    run.train()
    if ctx.params.bn_recalibration_batches:
        recalibrate_bn(net, ctx.stream("slimmable-bn"), ctx.params.bn_recalibration_batches)
    return width_result(ctx, net.eval(), run, sol)


@torch.no_grad()
def recalibrate_bn(net: SlimmableNet, stream, batches: int) -> None:
    """Every width's BN statistics re-estimated as exact averages over ``batches`` batches."""
    net.train()
    xs = [stream.next()[0] for _ in range(batches)]
    for k in range(1, net.num_steps + 1):
        bns = net.bn_layers(k)
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
        for t, x in enumerate(xs):
            for bn in bns:
                bn.momentum = 1.0 / (t + 1)          # cumulative average
            net(x, k)
        for bn, m in zip(bns, saved):
            bn.momentum = m
    net.eval()


def width_result(ctx: Context, model, run, sol) -> TrainResult:
    """TrainResult of a model of independent widths (slimmable, static)."""
    p, ref = ctx.params, ctx.original_macs
    return TrainResult(
        model=model, accuracy=run.accuracy(), macs=model.subnet_macs(),
        macs_dense=model.subnet_macs(dense=True), samples_seen=run.samples,
        progress={"samples_budget": run.budget, "rounds": len(run.history)},
        ablations=_ablations(p),
        history=run.history,
        extra={"widths": [s.width for s in sol], "units": [list(s.units) for s in sol],
               "targets_reached": all(abs(m - t * ref) <= 0.02 * ref
                                      for m, t in zip(model.subnet_macs(), ctx.recipe.targets)),
               "budget_matches": p.budget_matches})


def _ablations(p) -> dict:
    keys = ("distillation", "gamma", "sandwich", "random_widths", "loss", "inplace_distillation",
            "bn_recalibration_batches")
    return {k: getattr(p, k) for k in keys if hasattr(p, k)}
