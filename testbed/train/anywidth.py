"""Any-width training (Vu et al., CVPR 2020), registered as method ``anywidth``.

Builds the expanded :class:`~testbed.nets.NestedNet` of the recipe (same ``width`` as the
SteppingNet recipe), fixes the regular lower-triangular assignment of
:mod:`testbed.nets.anywidth` (K contiguous groups per layer, subnet MACs on the targets),
and trains all K subnets jointly — sandwich sampling optional, as in the authors' code —
for the SteppingNet-matched budget (:mod:`.baseline`). One BN serves every subnet, and the
result exports as incremental stages through the same exporter as SteppingNet.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..nets import NestedNet
from ..nets.anywidth import assign
from . import compact
from .baseline import JointParams, JointRun, budget, init_seed
from .recipe import SECTIONS
from .runner import METHODS, PREFLIGHT, Context, TrainResult


@SECTIONS.register("anywidth")
@dataclass(frozen=True)
class AnyWidthParams(JointParams):
    pass


PREFLIGHT.register("anywidth")(budget)


@METHODS.register("anywidth")
def train_anywidth(ctx: Context) -> TrainResult:
    r = ctx.recipe
    plan = assign(r.arch, r.width, r.targets, ctx.num_classes, ctx.train.info.shape)
    init_seed(r, "anywidth-init")
    net = NestedNet(r.arch, r.width, ctx.num_classes, r.num_steps, ctx.train.info.shape)
    net.set_steps(plan.steps)
    net.to(ctx.device)
    _check_reached(ctx, net)
    run = JointRun(ctx, net, lambda x, k: compact.forward(net, x, k),
                   lambda x: compact.forward_all(net, x))
    run.train()
    macs, ref = net.subnet_macs(), ctx.original_macs
    return TrainResult(
        model=net.eval(), accuracy=run.accuracy(), macs=macs,
        macs_dense=net.subnet_macs(dense=True), samples_seen=run.samples,
        progress={"samples_budget": run.budget, "rounds": len(run.history)},
        ablations={"distillation": ctx.params.distillation, "gamma": ctx.params.gamma,
                   "sandwich": ctx.params.sandwich, "random_widths": ctx.params.random_widths,
                   "loss": ctx.params.loss,
                   "width": r.width},
        history=run.history,
        extra={"fractions": list(plan.fractions), "units": [list(c) for c in plan.counts],
               "targets_reached": all(abs(m - t * ref) <= 0.02 * ref
                                      for m, t in zip(macs, r.targets)),
               "budget_matches": ctx.params.budget_matches})


def _check_reached(ctx: Context, net: NestedNet) -> None:
    """The largest target must fit in the expanded network (as SteppingNet requires)."""
    full = net.subnet_macs()[-1]
    r = ctx.recipe
    if full < (r.targets[-1] - 0.02) * ctx.original_macs:
        raise ConfigError(r.file, "targets", f"fractions the width-{r.width} network can reach "
                          f"(at most {full / ctx.original_macs:.3f} with this assignment)",
                          list(r.targets))
