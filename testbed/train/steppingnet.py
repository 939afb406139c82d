"""SteppingNet training (paper §III): construction of nested subnets, then retraining.

Registered as method ``steppingnet`` (recipe section :class:`SteppingNetParams`). Starts
from the expanded network with every unit in subnet 1. Construction (§III-A) repeats
``iterations`` times: train every subnet on ``batches_per_iteration`` batches (subnets in
ascending order on each batch, learning rates of smaller subnets' weights suppressed by
beta^(k-j)), accumulate gate-gradient importance (:mod:`.importance`), re-evaluate
magnitude pruning (:mod:`.prune`), move units (:mod:`.construction`). Retraining (§III-B)
trains the fixed subnets for ``retrain_epochs`` with (1-gamma) CE + gamma KL(teacher ||
subnet), same suppression, pruning masks frozen. Training uses the compact forward
(:mod:`.compact`). State is saved after every iteration and epoch.

Choices of ours, each measured on the LeNet cpu runs (README, training results): a
subnet's step updates only that subnet's weights, weight decay included
(:func:`.common.suppression_scales`); ``settle_iterations`` (0 = the paper) ends the
construction with iterations that only hold the targets, so the last-filled stages train
in their final shape before retraining; ``score_normalization`` ranks units of all
layers on one scale; and construction (:mod:`.construction`) moves units along a
straight MAC line per subnet and keeps a floor of units per layer in the later stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..cost import dense_macs
from ..errors import ConfigError
from ..nets import NestedNet
from . import compact
from .common import (derive_seed, distill_loss, generator, lr_at, make_sgd, param_stages,
                     sgd_step, suppression_scales)
from .construction import MoveRules, construction_moves
from .dead import revive_dead
from .health import stage_units
from .importance import Importance, new_gates
from .prune import magnitude_prune
from .recipe import SECTIONS, knob
from .warmstart import embed_teacher
from .runner import METHODS, Context, TrainResult

# §IV: training batches per construction iteration (LeNets 250, VGG-16 100).
PAPER_BATCHES = {"lenet3c1l": 250, "lenet5": 250, "vgg16": 100}
# ``preset: faithful`` turns every addition of ours off (the paper as written, issue 19).
# The pruning threshold stays relative: the paper cites [14], whose threshold is a
# multiple of the layer's weight std, and its own value is lost in our copy ("set to .").
SWITCHES = ("preset", "score_normalization", "settle_iterations", "mac_schedule", "seed_stages",
            "floors", "calibration", "prune_first", "prune_threshold_mode", "init", "revive_dead")
PRESETS = {
    "ours": {},
    "faithful": {"score_normalization": "none", "settle_iterations": 0, "mac_schedule": "quota",
                 "seed_stages": False, "floors": False, "calibration": False,
                 "prune_first": False, "init": "teacher", "revive_dead": False},
}


@SECTIONS.register("steppingnet")
@dataclass(frozen=True)
class SteppingNetParams:
    PRESETS = PRESETS        # (not a field) read by recipe.parse_section for ``preset:``
    iterations: int = knob(300, lambda v: v > 0, "> 0")             # §IV: 300 iterations
    # Our addition (0 = the paper): the last ``settle_iterations`` construction iterations
    # move no unit beyond keeping every subnet at its target, so the stages filled last
    # (the largest subnets) train a while in their final shape before retraining.
    settle_iterations: int = knob(0, lambda v: v >= 0, ">= 0")
    # Our addition ("none" = the paper's global ranking of raw scores): how eq. 3 scores
    # of different layers are put on one scale, see importance.selection_scores. Default
    # per_mac (importance per MAC a unit costs): ahead of rank on both LeNets' small
    # subnets at the long schedule (issue 19, README).
    score_normalization: str = knob("per_mac", lambda v: v in ("rank", "mean", "none", "per_mac"),
                                    '"rank", "mean", "none" or "per_mac"')
    # Our additions to the moves (construction.MoveRules; the paper: quota, false, false,
    # false): per-subnet MAC lines instead of one quota, seeded stages, floors, calibration.
    mac_schedule: str = knob("lines", lambda v: v in ("lines", "quota"), '"lines" or "quota"')
    seed_stages: bool = True
    floors: bool = True
    calibration: bool = True
    # Our order: prune, then move (a unit's price counts only its live weights); the
    # paper prunes "after neurons in the subnets are updated in an iteration".
    prune_first: bool = True
    # "relative" (x the layer's weight std, as [14] defines it) or "absolute" (|w| > value)
    prune_threshold_mode: str = knob("relative", lambda v: v in ("relative", "absolute"),
                                     '"relative" or "absolute"')
    # "random" (ours) or "teacher": subnet 1 starts as the original network embedded in
    # the expanded one (§III-A: "initialized with the original neural network"), extra
    # units' outgoing weights zero, so it computes exactly the teacher's function.
    init: str = knob("random", lambda v: v in ("random", "teacher"), '"random" or "teacher"')
    # Our addition (off = the paper): after each construction round, units whose gate
    # gradient was exactly 0 (dead ReLUs, ranked last and sinking into the last stage)
    # get fresh incoming weights, see dead.py.
    revive_dead: bool = False
    # A named set of defaults for the switches above; keys given in the recipe win.
    preset: str = knob("ours", lambda v: v in PRESETS, " or ".join(f'"{p}"' for p in ("ours", "faithful")))
    batches_per_iteration: int | None = knob(None, lambda v: v > 0, "> 0")  # None: PAPER_BATCHES
    beta: float = knob(0.9, lambda v: 0 < v <= 1, "in (0, 1]")      # §IV: LR suppression base
    importance_growth: float = knob(1.5, lambda v: v > 0, "> 0")    # §IV: eq. 3 weights x1.5 per subnet
    # Relative magnitude threshold (x the layer's weight std). The paper's value is lost
    # in our copy; 0.1 prunes ~8% of a Gaussian layer: a mild cut of near-zero weights.
    prune_threshold: float = knob(0.1, lambda v: v >= 0, ">= 0")
    retrain_epochs: int = knob(30, lambda v: v >= 0, ">= 0")        # not given in the paper
    gamma: float = knob(0.4, lambda v: 0 <= v <= 1, "in [0, 1]")    # §IV: eq. 4 weight of the KL term
    lr_suppression: bool = True                                     # Fig. 8 ablation switch
    distillation: bool = True                                       # Fig. 8 ablation switch
    target_tolerance: float = knob(0.02, lambda v: v > 0, "> 0")    # final MACs within +-2 pp of target
    eval_every: int = knob(10, lambda v: v > 0, "> 0")              # iterations between quick evaluations
    eval_limit: int = knob(1000, lambda v: v > 0, "> 0")            # test samples in a quick evaluation


@METHODS.register("steppingnet")
def train_steppingnet(ctx: Context) -> TrainResult:
    run = _Run(ctx)
    if run.phase == "construction":
        run.construct()
    run.retrain()
    return run.result()


class _Run:
    """One SteppingNet run: the network, its optimiser, batch stream and log, resumable."""

    def __init__(self, ctx: Context):
        self.ctx, self.p, r = ctx, ctx.params, ctx.recipe
        self.batches = self.p.batches_per_iteration or PAPER_BATCHES.get(r.arch, 250)
        self.targets = [t * ctx.original_macs for t in r.targets]
        self.tolerance = self.p.target_tolerance * ctx.original_macs
        torch.manual_seed(derive_seed(r.seed, "steppingnet-init"))
        self.net = NestedNet(r.arch, r.width, ctx.num_classes, r.num_steps,
                             ctx.train.info.shape).to(ctx.device)
        self._check_targets()
        if self.p.init == "teacher":
            embed_teacher(self.net, ctx.teacher.model)
        if self.p.settle_iterations >= self.p.iterations:
            raise ConfigError(r.file, "steppingnet.settle_iterations",
                              f"fewer than iterations ({self.p.iterations})", self.p.settle_iterations)
        self.phase, self.done, self.step, self.samples, self.history = "construction", 0, 0, 0, []
        self._new_phase_tools("construction")
        saved = ctx.load_state()
        if saved is not None:
            self._restore(saved)

    def _check_targets(self) -> None:
        full = dense_macs([layer.geom for layer in self.net.layers()])
        if self.targets[-1] > full:
            raise ConfigError(self.ctx.recipe.file, "targets", f"fractions <= {full / self.ctx.original_macs:.3f} "
                              f"(the expanded network's MACs at width {self.ctx.recipe.width})",
                              list(self.ctx.recipe.targets))

    def _new_phase_tools(self, phase: str) -> None:
        self.opt = make_sgd(self.net.parameters(), self.ctx.recipe.optimizer)
        self.stream = self.ctx.stream(f"steppingnet-{phase}")

    # -- state ---------------------------------------------------------------------
    def _save(self) -> None:
        self.ctx.save_state({"phase": self.phase, "done": self.done, "step": self.step,
                             "samples_seen": self.samples, "history": self.history,
                             "model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                             "stream": self.stream.state_dict()})

    def _restore(self, s: dict) -> None:
        self.phase, self.done, self.step = s["phase"], s["done"], s["step"]
        self.samples, self.history = s["samples_seen"], s["history"]
        self._new_phase_tools(self.phase)
        self.net.load_state_dict(s["model"])
        self.opt.load_state_dict(s["optimizer"])
        self.stream.load_state_dict(s["stream"])

    # -- one training step -----------------------------------------------------------
    def _train_step(self, x, y, k: int, lr: float, scales, gates=None, teacher=None,
                    straight_through: bool = False) -> float:
        gamma = self.p.gamma if self.p.distillation else 0.0
        with self.ctx.autocast():
            logits = compact.forward(self.net, x, k, gates, straight_through)
            loss = distill_loss(logits, teacher, y, gamma)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        sgd_step(self.opt, lr, self.ctx.recipe.optimizer.weight_decay, scales)
        self.samples += len(y)
        return float(loss.detach())

    def _scales(self) -> list:
        """Per-subnet LR factors from the current assignment: beta^(k-j) on smaller
        subnets' weights (1 with suppression off), 0 outside subnet k (no weight decay on
        units subnet k does not use, see :func:`.common.suppression_scales`)."""
        beta = self.p.beta if self.p.lr_suppression else 1.0
        stages = param_stages(self.net)
        return [suppression_scales(stages, k, beta) for k in range(1, self.net.num_steps + 1)]

    def _lr(self, total: int) -> float:
        r = self.ctx.recipe
        return lr_at(r.schedule, r.optimizer.lr, self.step / max(total, 1))

    # -- construction (§III-A) ---------------------------------------------------------
    def construct(self) -> None:
        n, k_all = self.p.iterations, self.net.num_steps
        total = n * self.batches * k_all
        bar = self.ctx.progress(n * self.batches, "construction", self.done * self.batches, "batch")
        rules = MoveRules(self.p.mac_schedule, self.p.seed_stages, self.p.floors,
                          self.p.calibration)
        relative = self.p.prune_threshold_mode == "relative"
        for t in range(self.done, n):
            losses, last = self._construction_round(t, total, bar)
            if self.p.prune_first:
                magnitude_prune(self.net, self.p.prune_threshold, relative)
            moved = construction_moves(self.net, self.importance, self.targets, t,
                                       n - self.p.settle_iterations,
                                       self.p.importance_growth, self.tolerance, rules)
            if not self.p.prune_first:
                magnitude_prune(self.net, self.p.prune_threshold, relative)
            revived = None if not self.p.revive_dead else revive_dead(
                self.net, self.opt, self.importance,
                generator(self.ctx.recipe.seed, "steppingnet-revive", t), last)
            self._log_iteration(t, losses, moved, bar, revived)
            self.done = t + 1
            self._save()
        bar.close()
        self.phase, self.done, self.step = "retraining", 0, 0
        self._new_phase_tools("retraining")
        self._save()

    def _construction_round(self, t: int, total: int, bar) -> tuple[list[float], torch.Tensor]:
        """B batches, every subnet trained on each; importance accumulated. Returns the
        mean losses and the last batch's images."""
        self.net.train()
        self.importance = Importance(self.net, self.p.score_normalization)
        scales, sums = self._scales(), [0.0] * self.net.num_steps
        for _ in range(self.batches):
            x, y = self.stream.next()
            for k in range(1, self.net.num_steps + 1):
                gates = new_gates(self.net)
                sums[k - 1] += self._train_step(x, y, k, self._lr(total), scales[k - 1], gates,
                                                straight_through=True)
                self.importance.add(k, gates)
                self.step += 1
            bar.update(1)
        return [s / self.batches for s in sums], x

    def _log_iteration(self, t: int, losses: list[float], moved: list[int], bar,
                       revived: list[int] | None = None) -> None:
        pct = [round(100 * m / self.ctx.original_macs, 2) for m in self.net.subnet_macs()]
        row = {"phase": "construction", "iteration": t + 1, "macs_pct": pct,
               "loss": [round(v, 4) for v in losses], "moved": moved}
        if revived is not None:
            row["revived"] = revived   # dead units re-initialised, per hidden layer
        if (t + 1) % self.p.eval_every == 0 or t + 1 == self.p.iterations:
            row["accuracy_quick"] = [round(a, 4) for a in self._accuracy(self.p.eval_limit)]
            row["units"] = stage_units(self.net)     # where the units went
        self.history.append(row)
        bar.set_postfix_str(f"it {t + 1}/{self.p.iterations} MACs% {pct} "
                            f"loss {[round(v, 2) for v in losses]}", refresh=False)

    # -- retraining (§III-B) -----------------------------------------------------------
    def retrain(self) -> None:
        epochs, per = self.p.retrain_epochs, self.stream.per_epoch
        total = epochs * per * self.net.num_steps
        scales = self._scales()
        bar = self.ctx.progress(epochs * per, "retraining", self.done * per, "batch")
        for e in range(self.done, epochs):
            self.net.train()
            sums = [0.0] * self.net.num_steps
            for _ in range(per):
                x, y = self.stream.next()
                teacher = self._teacher_logits(x)
                for k in range(1, self.net.num_steps + 1):
                    sums[k - 1] += self._train_step(x, y, k, self._lr(total), scales[k - 1], teacher=teacher)
                    self.step += 1
                bar.update(1)
            self._log_epoch(e, [s / per for s in sums], bar)
            self.done = e + 1
            self._save()
        bar.close()

    @torch.no_grad()
    def _teacher_logits(self, x):
        if not self.p.distillation or self.p.gamma == 0:
            return None
        return self.ctx.teacher.model(x)

    def _log_epoch(self, e: int, losses: list[float], bar) -> None:
        acc = [round(a, 4) for a in self._accuracy(self.p.eval_limit)]
        self.history.append({"phase": "retraining", "epoch": e + 1,
                             "loss": [round(v, 4) for v in losses], "accuracy_quick": acc})
        bar.set_postfix_str(f"epoch {e + 1}/{self.p.retrain_epochs} acc {acc}", refresh=False)

    # -- results -----------------------------------------------------------------------
    def _accuracy(self, limit: int | None = None) -> list[float]:
        return self.ctx.evaluate(self.net, lambda x: compact.forward_all(self.net, x), limit)

    def result(self) -> TrainResult:
        accuracy, macs = self._accuracy(), self.net.subnet_macs()
        reached = [abs(m - t) <= self.tolerance for m, t in zip(macs, self.targets)]
        return TrainResult(
            model=self.net.eval(), accuracy=accuracy, macs=macs,
            macs_dense=self.net.subnet_macs(dense=True), samples_seen=self.samples,
            progress={"iterations": self.p.iterations, "epochs": self.p.retrain_epochs,
                      "batches_per_iteration": self.batches},
            ablations={"lr_suppression": self.p.lr_suppression,
                       "distillation": self.p.distillation, "width": self.ctx.recipe.width,
                       **{k: getattr(self.p, k) for k in SWITCHES}},
            history=self.history, extra={"targets_reached": all(reached)})
