"""Helpers every training method shares (steppingnet, anywidth, slimmable, static).

Sits between the runner (:mod:`.runner`, which owns the run folder) and the methods:
the learning-rate schedule (a pure function), SGD steps with per-weight learning-rate
suppression done by scaling gradients, the distillation loss of eq. (4), per-subnet
evaluation, seeded generators and a resumable :class:`BatchStream`, the atomic
:class:`RunState` file and progress bars. Nothing here reads a recipe file or knows a
method; all functions take plain values.

Conventions: accuracies are fractions in [0, 1]; ``samples_seen`` counts training samples
through a forward+backward pass of the trained model (a batch used to train K subnets
counts K times; teacher passes are excluded).
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import atomic_torch_save
from ..data import Split, normalize
from ..data.loader import crop_flip
from .recipe import Optimizer, Schedule

EVAL_BATCH = 500     # test-time batch: large enough to amortise Python overhead on a CPU


# -- learning rate --------------------------------------------------------------------
def lr_at(schedule: Schedule, base_lr: float, frac: float) -> float:
    """Learning rate at ``frac`` (0..1) of a phase: linear warm-up, then cosine/linear
    decay from ``base_lr`` to ``final_lr_frac * base_lr``, or constant."""
    frac = min(max(frac, 0.0), 1.0)
    if schedule.warmup_frac > 0 and frac < schedule.warmup_frac:
        return base_lr * (frac + 1e-3) / schedule.warmup_frac
    t = (frac - schedule.warmup_frac) / max(1.0 - schedule.warmup_frac, 1e-12)
    low = schedule.final_lr_frac * base_lr
    if schedule.kind == "cosine":
        return low + (base_lr - low) * 0.5 * (1 + math.cos(math.pi * t))
    if schedule.kind == "linear":
        return base_lr + (low - base_lr) * t
    return base_lr


def autocast(compute, device):
    """The context a training forward pass and its loss run in: bfloat16 autocast when the
    recipe's ``compute.precision`` asks for it, else nothing."""
    enabled = compute.precision == "bf16"
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled)


def make_sgd(params: Iterable[torch.nn.Parameter], cfg: Optimizer) -> torch.optim.SGD:
    """SGD with momentum; weight decay is added by :func:`sgd_step` (before suppression)."""
    return torch.optim.SGD(list(params), lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=0.0)


def sgd_step(opt: torch.optim.Optimizer, lr: float, weight_decay: float,
             scales: dict | None = None) -> None:
    """One step at ``lr``: gradient += weight_decay * w, then times ``scales[param]``
    (per-weight learning-rate factors; a plain SGD step is then exactly ``lr * scale``
    times the gradient, and with momentum each step's contribution is scaled)."""
    for group in opt.param_groups:
        group["lr"] = lr
        for p in group["params"]:
            if p.grad is None:
                continue
            if weight_decay:
                p.grad.add_(p.detach(), alpha=weight_decay)
            if scales is not None and p in scales:
                p.grad.mul_(scales[p])
    opt.step()


# -- learning-rate suppression (§III-A2) ----------------------------------------------
def param_stages(net) -> dict:
    """Stage (smallest subnet holding it) of every element of a NestedNet's parameters:
    a hidden weight, bias or BN parameter belongs to its output unit's step, a classifier
    weight to its input unit's step, the classifier bias to subnet 1."""
    out = {}
    for i, layer in enumerate(net.layers()):
        if layer.geom.classifier:
            s_in = net.in_steps(i).repeat_interleave(layer.geom.in_per_unit)
            out[layer.weight] = s_in[None, :].expand_as(layer.weight)
            out[layer.bias] = torch.ones_like(layer.bias, dtype=torch.long)
            continue
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        out[layer.weight] = layer.step.view(shape).expand_as(layer.weight)
        out[layer.bias] = layer.step
        if layer.bn is not None:
            out[layer.bn.weight] = out[layer.bn.bias] = layer.step
    return out


def suppression_scales(stages: dict, k: int, beta: float) -> dict:
    """Per-element LR factor when training subnet k: beta^(k-j) for an element of a smaller
    subnet j < k, 1 for subnet k's own stage, and 0 for an element outside subnet k
    (stage j > k). Such an element has no gradient from subnet k's loss; the 0 keeps the
    step's weight decay off it too. Without it, subnets trained one after another decay
    the units of stage K once per subnet step but train them once per batch: on the
    LeNet-5 cpu recipe pruning then took subnets 3-4 from 84% to 56% of the MACs with no
    unit moving, and the late stages ended dead (README, training results). ``beta`` = 1:
    no suppression, mask only."""
    return {p: torch.where(s <= k, beta ** (k - s).clamp(min=0).to(p.dtype),
                           torch.zeros((), dtype=p.dtype, device=p.device))
            for p, s in stages.items()}


# -- losses ---------------------------------------------------------------------------
def distill_loss(student: torch.Tensor, teacher: torch.Tensor | None, labels: torch.Tensor,
                 gamma: float) -> torch.Tensor:
    """Eq. (4): (1-gamma) * CE(student, labels) + gamma * KL(p_teacher || p_student),
    batch means; plain cross-entropy when there is no teacher or gamma is 0."""
    ce = F.cross_entropy(student, labels)
    if teacher is None or gamma == 0:
        return ce
    log_p_s = F.log_softmax(student, dim=1)
    log_p_t = F.log_softmax(teacher.detach(), dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return (1 - gamma) * ce + gamma * kl


# -- evaluation -----------------------------------------------------------------------
@torch.no_grad()
def evaluate(model: torch.nn.Module, forward: Callable, split: Split, device,
             limit: int | None = None) -> list[float]:
    """Accuracy of every output of ``forward(x) -> [logits, ...]`` on ``split``, or on
    ``limit`` samples evenly strided over it (eval mode; the model's mode is restored).
    Strided, not the first ``limit``: an image-folder split is sorted by class."""
    was_training = model.training
    model.eval()
    correct, total = None, 0
    picked = quick_subset(len(split), limit)
    n = len(picked)
    for start in range(0, n, EVAL_BATCH):
        x, y = _slice(split, picked[start:start + EVAL_BATCH], device)
        hits = [int((logits.argmax(1) == y).sum()) for logits in forward(x)]
        correct = hits if correct is None else [a + b for a, b in zip(correct, hits)]
        total += len(y)
    model.train(was_training)
    return [c / max(total, 1) for c in correct or []]


def quick_subset(size: int, limit: int | None) -> torch.Tensor:
    """Indices of ``limit`` samples spread evenly over ``size`` (all when no limit)."""
    if limit is None or limit >= size:
        return torch.arange(size)
    return torch.div(torch.arange(limit) * size, limit, rounding_mode="floor")


def _slice(split: Split, idx: torch.Tensor, device):
    x = normalize(split.images[idx], split.info.mean, split.info.std)
    return x.to(device), split.labels[idx].to(device)


# -- seeds and batch streams ------------------------------------------------------------
def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of values (stable across runs and machines)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def generator(*parts) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(*parts))


class BatchStream:
    """An endless, resumable stream of training batches: epoch e is a permutation seeded
    by (seed, e), batch b of it is augmented with a generator seeded by (seed, e, b), so
    the whole stream state is two integers (``state_dict``)."""

    def __init__(self, split: Split, batch_size: int, seed, augment: bool = True, device="cpu",
                 channels_last: bool = False):
        self.split, self.seed, self.augment, self.device = split, seed, augment, device
        self.channels_last = channels_last
        self.batch_size = min(batch_size, len(split))
        self.per_epoch = len(split) // self.batch_size      # drop_last: equal-sized steps
        self.epoch, self.index, self._order = 0, 0, None

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.index >= self.per_epoch:
            self.epoch, self.index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = torch.randperm(len(self.split), generator=generator(self.seed, self.epoch))
        idx = self._order[self.index * self.batch_size:(self.index + 1) * self.batch_size]
        x = self.split.images[idx]
        if self.augment and self.split.info.crop_flip:
            x = crop_flip(x, generator(self.seed, self.epoch, self.index))
        self.index += 1
        x = normalize(x, self.split.info.mean, self.split.info.std).to(self.device)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.split.labels[idx].to(self.device)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index, self._order = int(state["epoch"]), int(state["index"]), None


def rng_state() -> dict:
    """Global RNG states (torch, numpy, python), saved with every run state."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(),
            "numpy_pos": int(np.random.get_state()[2]), "python": repr(random.getstate())}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", np.asarray(state["numpy"], dtype=np.uint32),
                         state["numpy_pos"]))
    random.setstate(_literal(state["python"]))


def _literal(text: str):
    import ast
    return ast.literal_eval(text)


# -- resumable state ------------------------------------------------------------------
class RunState:
    """The resumable state of one run (or of a teacher being trained): one atomic file,
    rewritten at every checkpoint boundary. ``hook(state)`` runs after each save (tests
    use it to interrupt a run)."""

    def __init__(self, path: str | Path, hook: Callable | None = None):
        self.path, self.hook = Path(path), hook

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        set_rng_state(state["rng"])
        return state

    def save(self, state: dict) -> None:
        atomic_torch_save({**state, "rng": rng_state()}, self.path)
        if self.hook is not None:
            self.hook(state)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def progress_bar(total: int, desc: str, enabled: bool | str = True, initial: int = 0,
                 unit: str = "it"):
    """A tqdm bar (``enabled`` True), nothing (False), or, with ``"lines"``, a plain
    timestamped line to stderr every :data:`LINE_INTERVAL_S` seconds (logs of runs in the
    background: ``testbed train --progress-lines``)."""
    if enabled == "lines":
        return LineProgress(total, desc, initial, unit)
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, initial=initial, disable=not enabled, unit=unit,
                dynamic_ncols=True, leave=True, mininterval=0.5)


def _minutes(seconds: float) -> str:
    """``45m``, ``3h07m``: a time left at the rate so far, to the minute."""
    m = max(1, round(seconds / 60))
    return f"{m}m" if m < 60 else f"{m // 60}h{m % 60:02d}m"


#: Seconds between two lines of a :class:`LineProgress`.
LINE_INTERVAL_S = 60.0


class LineProgress:
    """The part of tqdm's interface the trainers use, written as one line per interval:
    ``2026-12-01T07:30:00Z construction 12,800/38,400 batch (33.3%) 41/s 10m left [postfix]``
    (the time left at the rate since it started in this process),
    plus one when it starts and one when it closes."""

    def __init__(self, total: int, desc: str, initial: int = 0, unit: str = "it",
                 interval: float = LINE_INTERVAL_S, stream=None, clock: Callable | None = None):
        self.total, self.desc, self.n, self.unit = total, desc, initial, unit
        self.interval, self.stream = interval, stream or sys.stderr
        self.clock = clock or time.monotonic
        self.postfix, self.closed = "", False
        self.start_n, self.start_t = initial, self.clock()
        self.last = self.start_t
        self._line("start")

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last >= self.interval:
            self._line()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def set_postfix(self, refresh: bool = True, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._line("done")

    def _line(self, what: str = "") -> None:
        now = self.clock()
        self.last = now
        rate = (self.n - self.start_n) / (now - self.start_t) if now > self.start_t else 0.0
        pct = 100.0 * self.n / self.total if self.total else 100.0
        parts = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), self.desc,
                 f"{self.n:,}/{self.total:,} {self.unit} ({pct:.1f}%)",
                 f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.2g}/s"]
        if rate > 0 and self.n < self.total:
            parts.append(f"{_minutes((self.total - self.n) / rate)} left")
        parts += [p for p in (self.postfix, what) if p]
        print(" ".join(parts), file=self.stream, flush=True)
