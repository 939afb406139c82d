"""What the three baselines (``slimmable``, ``anywidth``, ``static``) share: their recipe
sections, their training budget, and the joint training loop of slimmable and any-width.

Budget: a baseline trains on exactly as many samples as the SteppingNet recipe it names
with ``budget_matches`` (``samples_seen`` as :mod:`.common` counts it: a batch used by K
subnets counts K times). That recipe must agree with this one on everything that shapes
training (arch, dataset, seed, targets, batch size, optimiser, schedule, teacher, data);
any difference, or an explicit ``samples`` that differs from the derived budget, is a
:class:`~testbed.errors.ConfigError` naming both files. One schedule spans the budget.

Joint loop: every batch trains all K subnets (or the sandwich rule's smallest, largest
and ``random_widths`` random others) with their losses summed (or averaged, ``loss:
mean``) into one SGD step; the
widest runs first so that in-place distillation can use it. State is saved after every
round (one pass over the training split's worth of batches).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..errors import ConfigError
from .common import derive_seed, distill_loss, generator, lr_at, make_sgd, sgd_step
from .recipe import Recipe, knob, load_recipe
from .runner import Context

#: Recipe keys that must equal the SteppingNet recipe's for budgets to be comparable.
SHARED_KEYS = ("arch", "dataset", "seed", "targets", "batch_size", "optimizer", "schedule",
               "teacher", "data")


@dataclass(frozen=True)
class BudgetParams:
    """Recipe keys of every baseline."""
    budget_matches: str | None = None          # SteppingNet recipe (relative to this one)
    samples: int | None = knob(None, lambda v: v > 0, "> 0")   # explicit budget (checked)
    distillation: bool = True                  # teacher KD, eq. (4), as SteppingNet's retraining
    gamma: float = knob(0.4, lambda v: 0 <= v <= 1, "in [0, 1]")
    eval_limit: int = knob(1000, lambda v: v > 0, "> 0")    # test samples per quick evaluation


@dataclass(frozen=True)
class JointParams(BudgetParams):
    """Joint training of K subnets over shared weights."""
    sandwich: bool = False                     # US-Nets: smallest + largest + random widths
    random_widths: int = knob(1, lambda v: v >= 0, ">= 0")
    # How the subnets' losses combine into one step: "sum" (slimmable/US-Nets) or "mean"
    # (the same step size on shared weights as training one subnet).
    loss: str = knob("sum", lambda v: v in ("sum", "mean"), "sum or mean")


# -- budget -----------------------------------------------------------------------------
def steppingnet_samples(sn: Recipe, train_size: int) -> int:
    """Samples a SteppingNet run of recipe ``sn`` sees on a training split of this size."""
    from .steppingnet import PAPER_BATCHES
    p = sn.params
    bs = min(sn.batch_size, train_size)
    batches = p.batches_per_iteration or PAPER_BATCHES.get(sn.arch, 250)
    per_epoch = train_size // bs
    return bs * sn.num_steps * (p.iterations * batches + p.retrain_epochs * per_epoch)


def budget(ctx: Context) -> int:
    """The run's sample budget (see module docstring)."""
    r, p = ctx.recipe, ctx.params
    if p.budget_matches is None:
        if p.samples is None:
            raise ConfigError(r.file, r.method, "budget_matches (a steppingnet recipe) or samples")
        return p.samples
    sn = matched_recipe(r)
    derived = steppingnet_samples(sn, len(ctx.train))
    if p.samples is not None and p.samples != derived:
        raise ConfigError(r.file, f"{r.method}.samples", f"{derived} (the budget of {sn.file})",
                          p.samples)
    return derived


def matched_recipe(r: Recipe) -> Recipe:
    """The SteppingNet recipe ``r`` names in ``budget_matches``, checked to agree with it."""
    where = f"{r.method}.budget_matches"
    path = Path(r.params.budget_matches)
    if r.file and not path.is_absolute():
        path = Path(r.file).parent / path
    if not path.is_file():
        raise ConfigError(r.file, where, "an existing steppingnet recipe file", str(path))
    sn = load_recipe(path)
    if sn.method != "steppingnet":
        raise ConfigError(r.file, where, "a recipe with method steppingnet", f"{path}: {sn.method}")
    keys = SHARED_KEYS + (("width",) if r.method == "anywidth" else ())
    for key in keys:
        if getattr(sn, key) != getattr(r, key):
            raise ConfigError(r.file, key, f"the same value as {path} ({_show(getattr(sn, key))}) "
                              "so that the budgets compare", _show(getattr(r, key)))
    if sn.compute.precision != r.compute.precision:   # (it also picks the cached teacher)
        raise ConfigError(r.file, "compute.precision", f"the same value as {path} "
                          f"({sn.compute.precision}) so that the runs compare",
                          r.compute.precision)
    return sn


def _show(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


# -- joint loop -------------------------------------------------------------------------
def widths_for_batch(num: int, sandwich: bool, random_widths: int, gen: torch.Generator) -> list[int]:
    """Subnets trained on one batch, widest first: all, or smallest + largest + random."""
    if not sandwich or num <= 2:
        return list(range(num, 0, -1))
    middle = torch.randperm(num - 2, generator=gen)[:random_widths] + 2
    return sorted({1, num, *middle.tolist()}, reverse=True)


def subnets_per_batch(num: int, p: JointParams) -> int:
    return min(num, 2 + p.random_widths) if p.sandwich and num > 2 else num


def joint_loss(forward: Callable, x, y, ks: list[int], teacher, gamma: float,
               inplace: bool = False) -> tuple[torch.Tensor, dict]:
    """Summed loss of subnets ``ks`` (widest first) on one batch; per-subnet values."""
    total, parts, widest = 0.0, {}, None
    for k in ks:
        logits = forward(x, k)
        if inplace and widest is not None:
            loss = distill_loss(logits, widest, y, 1.0)        # in-place: KL to the widest
        else:
            loss = distill_loss(logits, teacher, y, gamma)
        widest = logits.detach() if widest is None else widest
        total = total + loss
        parts[k] = float(loss.detach())
    return total, parts


@torch.no_grad()
def teacher_logits(ctx: Context, x):
    p = ctx.params
    if not p.distillation or p.gamma == 0 or ctx.teacher is None:
        return None
    return ctx.teacher.model(x)


class JointRun:
    """Resumable joint training of a K-subnet ``model`` for the run's sample budget.
    ``forward(x, k)`` gives subnet k's logits in training, ``forward_all(x)`` all K."""

    def __init__(self, ctx: Context, model, forward: Callable, forward_all: Callable,
                 inplace: bool = False):
        self.ctx, self.model, self.forward, self.forward_all = ctx, model, forward, forward_all
        self.inplace, self.p, self.salt = inplace, ctx.params, ctx.recipe.method
        self.budget = budget(ctx)
        self.opt = make_sgd(model.parameters(), ctx.recipe.optimizer)
        self.stream = ctx.stream(self.salt)
        self.samples, self.batch, self.history = 0, 0, []
        saved = ctx.load_state()
        if saved is not None:
            self._restore(saved)

    def _restore(self, s: dict) -> None:
        self.model.load_state_dict(s["model"])
        self.opt.load_state_dict(s["optimizer"])
        self.stream.load_state_dict(s["stream"])
        self.samples, self.batch, self.history = s["samples_seen"], s["batch"], s["history"]

    def _save(self) -> None:
        self.ctx.save_state({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                             "stream": self.stream.state_dict(), "samples_seen": self.samples,
                             "batch": self.batch, "history": self.history})

    def train(self) -> None:
        bar = self.ctx.progress(self.budget, self.salt, self.samples, "sample")
        while not self.done():
            sums = {}
            self.model.train()
            for _ in range(self.stream.per_epoch):
                if self.done():
                    break
                for k, v in self._step(bar).items():
                    sums.setdefault(k, []).append(v)
            self._log(sums, bar)
            self._save()
        bar.close()

    def done(self) -> bool:
        """Out of budget: the next batch could not hold one sample per trained subnet."""
        return self.budget - self.samples < subnets_per_batch(self.model.num_steps, self.p)

    def _step(self, bar) -> dict:
        r = self.ctx.recipe
        ks = widths_for_batch(self.model.num_steps, self.p.sandwich, self.p.random_widths,
                              generator(r.seed, self.salt, "sandwich", self.batch))
        x, y = self.stream.next()
        room = (self.budget - self.samples) // len(ks)
        x, y = x[:room], y[:room]
        teacher = teacher_logits(self.ctx, x)
        with self.ctx.autocast():
            loss, parts = joint_loss(self.forward, x, y, ks, teacher,
                                     self.p.gamma if self.p.distillation else 0.0, self.inplace)
        if self.p.loss == "mean":
            loss = loss / len(ks)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        sgd_step(self.opt, lr_at(r.schedule, r.optimizer.lr, self.samples / self.budget),
                 r.optimizer.weight_decay)
        self.samples += len(y) * len(ks)
        self.batch += 1
        bar.update(len(y) * len(ks))
        return parts

    def _log(self, sums: dict, bar) -> None:
        acc = [round(a, 4) for a in self.accuracy(self.p.eval_limit)]
        loss = {k: round(sum(v) / len(v), 4) for k, v in sorted(sums.items())}
        self.history.append({"round": len(self.history) + 1, "samples_seen": self.samples,
                             "loss": loss, "accuracy_quick": acc})
        bar.set_postfix_str(f"acc {acc}", refresh=False)

    def accuracy(self, limit: int | None = None) -> list[float]:
        return self.ctx.evaluate(self.model, self.forward_all, limit)


def init_seed(recipe: Recipe, what: str) -> None:
    """Seed the global RNG before building a model (reproducible initial weights)."""
    torch.manual_seed(derive_seed(recipe.seed, what))
