"""The teacher: the original (un-expanded, width 1.0) network of a recipe's architecture.

Step 1 of every training run (issue 3, item 1): it is the reference for "% of original
MACs" and ``original_accuracy``, and the distillation teacher of SteppingNet's retraining.
It is trained once per (arch, dataset, seed, teacher settings, data caps) and cached as
a testbed checkpoint in a shared teacher folder, so every method of one arch/dataset
reuses it; training is resumable per epoch like any run. ``teacher.checkpoint`` in a
recipe points at a trained one instead. Its accuracy is always measured on the run's own
test split (a cached teacher may have been trained for a recipe with another test split),
in eval mode, so ``original_accuracy`` is comparable with the subnets' accuracies.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import Split
from ..errors import ConfigError
from ..nets import NestedNet
from .common import (BatchStream, RunState, autocast, derive_seed, evaluate, lr_at, make_sgd,
                     progress_bar, sgd_step)
from .recipe import Optimizer, Recipe


@dataclass
class Teacher:
    model: torch.nn.Module      # eval mode, on the run's device, parameters frozen
    accuracy: float             # test accuracy (fraction)
    samples_seen: int           # training samples it took (0 for a given checkpoint)
    path: Path                  # its checkpoint


def cache_key(recipe: Recipe) -> str:
    """What decides the teacher's weights; equal keys share one cached teacher."""
    what = {"arch": recipe.arch, "dataset": recipe.dataset, "seed": recipe.seed,
            "teacher": asdict(replace(recipe.teacher, checkpoint=None)),
            "train_limit": recipe.data.train_limit, "augment": recipe.data.augment}
    if recipe.compute.precision != "fp32":  # (keeps the keys of fp32 teachers as they were)
        what["precision"] = recipe.compute.precision
    return f"{recipe.arch}-{recipe.dataset}-{derive_seed(json.dumps(what, sort_keys=True)):016x}"


def get_teacher(recipe: Recipe, train: Split, test: Split, device, cache_dir: Path,
                show_progress: bool | str = True, hook=None) -> Teacher:
    """Load the recipe's teacher (given, or cached), training and caching it if needed."""
    if recipe.teacher.checkpoint:
        return _given(recipe, test, device)
    path = Path(cache_dir) / f"{cache_key(recipe)}.pt"
    with cache_lock(path):
        if not path.is_file():
            model, samples = _train(recipe, train, device,
                                    RunState(path.with_suffix(".state.pt"), hook), show_progress)
            acc = accuracy(model, test, device)
            save_checkpoint(path, model, {"method": "teacher", "arch": recipe.arch,
                                          "dataset": recipe.dataset, "test_accuracy": [acc],
                                          "samples_seen": samples,
                                          "epochs": recipe.teacher.epochs})
            path.with_suffix(".state.pt").unlink(missing_ok=True)
    model, meta = load_checkpoint(path)
    model = _frozen(model, device)
    return Teacher(model, accuracy(model, test, device), int(meta["samples_seen"]), path)


@contextlib.contextmanager
def cache_lock(path: Path):
    """Hold an exclusive lock on ``path``'s lock file for the block: of several runs that
    need the same teacher at once (the four methods of one architecture, started side by
    side), one trains it and the others wait, then load it."""
    import fcntl
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another run training the teacher {path.name}", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _given(recipe: Recipe, test: Split, device) -> Teacher:
    path = Path(recipe.teacher.checkpoint)
    if recipe.file and not path.is_absolute():
        path = Path(recipe.file).parent / path
    model, _ = load_checkpoint(path)
    if getattr(model, "arch", None) != recipe.arch or getattr(model, "width", None) != 1.0:
        raise ConfigError(recipe.file, "teacher.checkpoint",
                          f"a width-1.0 {recipe.arch} checkpoint", str(path))
    model = _frozen(model, device)
    return Teacher(model, accuracy(model, test, device), 0, path)


def accuracy(model: torch.nn.Module, test: Split, device) -> float:
    """Test accuracy (fraction) of the teacher, in eval mode, on ``test``."""
    return evaluate(model, lambda x: [model(x)], test, device)[0]


def _frozen(model: torch.nn.Module, device) -> torch.nn.Module:
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _train(recipe: Recipe, train: Split, device, state: RunState, show: bool):
    """Plain SGD training of the width-1.0 network, checkpointed every epoch."""
    cfg = recipe.teacher
    torch.manual_seed(derive_seed(recipe.seed, "teacher-init"))
    model = NestedNet(recipe.arch, 1.0, len(train.classes), 1, train.info.shape).to(device)
    opt = make_sgd(model.parameters(), Optimizer(lr=cfg.lr, momentum=cfg.momentum))
    stream = BatchStream(train, cfg.batch_size, (recipe.seed, "teacher"), recipe.data.augment,
                         device, recipe.compute.channels_last)
    epoch, samples = 0, 0
    saved = state.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        stream.load_state_dict(saved["stream"])
        epoch, samples = saved["epoch"], saved["samples_seen"]
    total = max(cfg.epochs * stream.per_epoch, 1)
    bar = progress_bar(total, "teacher", show, initial=epoch * stream.per_epoch, unit="batch")
    model.train()
    for epoch in range(epoch, cfg.epochs):
        for b in range(stream.per_epoch):
            x, y = stream.next()
            with autocast(recipe.compute, device):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            sgd_step(opt, lr_at(cfg.schedule, cfg.lr, (epoch * stream.per_epoch + b) / total),
                     cfg.weight_decay)
            samples += len(y)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
        state.save({"phase": "teacher", "epoch": epoch + 1, "samples_seen": samples,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "stream": stream.state_dict()})
    bar.close()
    return model.eval(), samples
