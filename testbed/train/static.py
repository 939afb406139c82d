"""Static models, registered as method ``static``: K independently trained networks, one
per MAC target (units solved by :mod:`testbed.nets.widths`), the "offline table of
models" SteppingNet is contrasted with. The SteppingNet-matched budget (:mod:`.baseline`)
is split evenly over the K models, so each sees as many samples as one SteppingNet
subnet; each has its own batch stream, optimiser and full schedule. Non-incremental.

``static.units`` (one list of hidden units per layer for each target) trains given
shapes instead of solved ones, e.g. SteppingNet's subnets as plain dense networks, to
tell what a shape is worth from what nesting costs; each must land within
:data:`SHAPE_TOLERANCE` of its target's MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nets.static import StaticSet
from ..errors import ConfigError
from ..nets.widths import base_units, given, solve_all
from . import compact
from .baseline import BudgetParams, budget, init_seed, joint_loss, teacher_logits
from .common import lr_at, make_sgd, sgd_step
from .recipe import SECTIONS
from .runner import METHODS, PREFLIGHT, Context, TrainResult
from .slimmable import width_result


#: How far (fraction of the original MACs) a given shape may land from its target.
SHAPE_TOLERANCE = 0.02


@SECTIONS.register("static")
@dataclass(frozen=True)
class StaticParams(BudgetParams):
    # Hidden units per layer of each model (one list per target); None: solved from targets.
    units: tuple[tuple[int, ...], ...] | None = None


def shapes(ctx: Context) -> list:
    """The K models' WidthSolutions: solved from the targets, or the recipe's ``units``."""
    r, units = ctx.recipe, ctx.params.units
    shape = ctx.train.info.shape
    if units is None:
        return solve_all(r.arch, r.targets, ctx.num_classes, shape)
    if len(units) != len(r.targets):
        raise ConfigError(r.file, "static.units", f"one list per target ({len(r.targets)})",
                          [list(u) for u in units])
    hidden = base_units(r.arch, ctx.num_classes, shape)
    out = []
    for i, (target, u) in enumerate(zip(r.targets, units)):
        where = f"static.units[{i}]"
        if len(u) != len(hidden) or min(u) < 1:
            raise ConfigError(r.file, where, f"{len(hidden)} unit counts >= 1 (one per hidden "
                              f"layer of {r.arch})", list(u))
        sol = given(r.arch, target, u, ctx.num_classes, shape)
        if abs(sol.fraction - target) > SHAPE_TOLERANCE:
            raise ConfigError(r.file, where, f"a shape within {SHAPE_TOLERANCE:.0%} of the "
                              f"original MACs of its target {target:.2%} (it has "
                              f"{sol.fraction:.2%})", list(u))
        out.append(sol)
    return out


@PREFLIGHT.register("static")
def check_static(ctx: Context) -> None:
    budget(ctx)
    shapes(ctx)


@METHODS.register("static")
def train_static(ctx: Context) -> TrainResult:
    r = ctx.recipe
    sol = shapes(ctx)
    init_seed(r, "static-init")
    model = StaticSet(r.arch, [s.width for s in sol], ctx.num_classes, ctx.train.info.shape,
                      [s.units for s in sol]).to(ctx.device)
    run = _StaticRun(ctx, model)
    run.train()
    return width_result(ctx, model.eval(), run, sol)


def shares(total: int, k: int) -> list[int]:
    """``total`` split into ``k`` near-equal integer parts that sum to it."""
    return [total // k + (1 if i < total % k else 0) for i in range(k)]


class _StaticRun:
    """Trains the K models one after the other; resumable after every round."""

    def __init__(self, ctx: Context, model: StaticSet):
        self.ctx, self.model, self.p = ctx, model, ctx.params
        self.budget = budget(ctx)
        self.quota = shares(self.budget, model.num_steps)
        self.index, self.samples, self.done_k, self.history = 0, 0, 0, []
        self._tools()
        saved = ctx.load_state()
        if saved is not None:
            self._restore(saved)

    def _tools(self) -> None:
        net = self.model.nets[self.index]
        self.opt = make_sgd(net.parameters(), self.ctx.recipe.optimizer)
        self.stream = self.ctx.stream(f"static-{self.index + 1}")

    def _restore(self, s: dict) -> None:
        self.index, self.samples, self.done_k = s["index"], s["samples_seen"], s["done_k"]
        self.history = s["history"]
        self.model.load_state_dict(s["model"])
        if self.index < self.model.num_steps:
            self._tools()
            self.opt.load_state_dict(s["optimizer"])
            self.stream.load_state_dict(s["stream"])

    def _save(self) -> None:
        busy = self.index < self.model.num_steps
        self.ctx.save_state({"index": self.index, "samples_seen": self.samples,
                             "done_k": self.done_k, "history": self.history,
                             "model": self.model.state_dict(),
                             "optimizer": self.opt.state_dict() if busy else {},
                             "stream": self.stream.state_dict() if busy else {}})

    def train(self) -> None:
        bar = self.ctx.progress(self.budget, "static", self.samples, "sample")
        while self.index < self.model.num_steps:
            losses = self._round(bar)
            self._log(losses, bar)
            if self.done_k >= self.quota[self.index]:
                self.index, self.done_k = self.index + 1, 0
                if self.index < self.model.num_steps:
                    self._tools()
            self._save()
        bar.close()

    def _round(self, bar) -> list[float]:
        net, quota, r = self.model.nets[self.index], self.quota[self.index], self.ctx.recipe
        net.train()
        losses = []
        for _ in range(self.stream.per_epoch):
            if self.done_k >= quota:
                break
            x, y = self.stream.next()
            x, y = x[: quota - self.done_k], y[: quota - self.done_k]
            teacher = teacher_logits(self.ctx, x)
            with self.ctx.autocast():
                loss, _ = joint_loss(lambda xx, k: compact.forward(net, xx, k), x, y, [1],
                                     teacher, self.p.gamma if self.p.distillation else 0.0)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            sgd_step(self.opt, lr_at(r.schedule, r.optimizer.lr, self.done_k / quota),
                     r.optimizer.weight_decay)
            self.done_k += len(y)
            self.samples += len(y)
            bar.update(len(y))
            losses.append(float(loss.detach()))
        return losses

    def _log(self, losses: list[float], bar) -> None:
        k = self.index + 1
        net = self.model.nets[self.index]
        acc = self.ctx.evaluate(net, lambda x: [net(x, 1)], self.p.eval_limit)[0]
        self.history.append({"model": k, "samples_seen": self.samples,
                             "loss": round(sum(losses) / max(len(losses), 1), 4),
                             "accuracy_quick": round(acc, 4)})
        bar.set_postfix_str(f"model {k} acc {acc:.3f}", refresh=False)

    def accuracy(self, limit: int | None = None) -> list[float]:
        return self.ctx.evaluate(self.model, self.model.forward_all, limit)
