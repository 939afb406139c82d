"""Run one recipe end to end: the run folder, the teacher, the method, the outputs.

``testbed train`` calls :func:`run_training`, which loads the data, gets the teacher
(:mod:`.teacher`), builds a :class:`Context` and calls the method registered under the
recipe's ``method`` in :data:`METHODS`. It then writes ``OUT/model.pt`` (a testbed
checkpoint whose ``meta`` the exporter reads) and ``OUT/training.json`` (the record the
reports read). Re-running the same command on the same OUT resumes from ``OUT/state.pt``.

A method is ``fn(ctx: Context) -> TrainResult``. It must call ``ctx.load_state()`` once
at its start (``None`` on a fresh run, else the dict it last saved) and
``ctx.save_state(dict)`` at every boundary it can resume from (tensors, numbers, strings,
lists and dicts; global RNG states are added automatically). Everything random must come
from ``ctx.stream(...)``/:func:`.common.generator` or be restored from the saved state, so
that an interrupted and resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .. import __version__
from ..checkpoint import save_checkpoint
from ..cost import original_macs
from ..data import Split, load_split, normalize
from ..errors import ConfigError, TestbedError
from ..registry import Registry
from .common import BatchStream, RunState, autocast, evaluate, progress_bar
from .recipe import Recipe, recipe_dict, recipe_fingerprint, same_recipe
from .teacher import Teacher, get_teacher


@dataclass
class TrainResult:
    """What a method hands back; the runner turns it into model.pt and training.json."""
    model: torch.nn.Module           # has config() (rebuildable via testbed.nets.MODEL_KINDS)
    accuracy: list[float]            # test accuracy per subnet, fractions
    macs: list[int]                  # per subnet, pruned weights not counted
    macs_dense: list[int]            # per subnet, what dense stage graphs execute
    samples_seen: int                # see common.py: teacher excluded
    progress: dict                   # e.g. {"iterations": 300, "epochs": 30}
    ablations: dict = field(default_factory=dict)    # switches worth comparing runs by
    history: list[dict] = field(default_factory=list)  # per iteration/epoch log rows
    extra: dict = field(default_factory=dict)        # anything else for training.json


@dataclass
class Context:
    """Everything a method needs; no method touches the run folder except through it."""
    recipe: Recipe
    train: Split
    test: Split
    device: torch.device
    run_dir: Path
    original_macs: int
    teacher: Teacher | None = None
    show_progress: bool | str = True
    hook: Callable | None = None     # called after each save_state (tests interrupt runs with it)
    wall_before_s: float = 0.0       # wall time of earlier attempts of this run
    attempts_before: list = field(default_factory=list)   # [{device, wall_s}] of those attempts
    started: float = field(default_factory=time.time)

    @property
    def params(self):
        """The method's own recipe section (a frozen dataclass)."""
        return self.recipe.params

    @property
    def num_classes(self) -> int:
        return len(self.train.classes)

    def load_state(self) -> dict | None:
        state = RunState(self.run_dir / "state.pt").load()
        if state is not None:
            self.wall_before_s = float(state.get("wall_time_s", 0.0))
            self.attempts_before = list(state.get("attempts") or (
                [{"device": "unrecorded", "wall_s": round(self.wall_before_s, 1)}]
                if self.wall_before_s > 0 else []))
            self.started = time.time()
        return state

    def save_state(self, state: dict) -> None:
        RunState(self.run_dir / "state.pt", self.hook).save({**state, "wall_time_s": self.wall_time(),
                                                              "attempts": self.attempts()})

    def wall_time(self) -> float:
        return self.wall_before_s + time.time() - self.started

    def attempts(self) -> list[dict]:
        """Device and wall time of every attempt of this run (a resumed run has several;
        they may run on different devices)."""
        return self.attempts_before + [{"device": str(self.device),
                                        "wall_s": round(time.time() - self.started, 1)}]

    def stream(self, salt: str, batch_size: int | None = None) -> BatchStream:
        """A resumable training-batch stream seeded by (recipe seed, salt)."""
        return BatchStream(self.train, batch_size or self.recipe.batch_size,
                           (self.recipe.seed, salt), self.recipe.data.augment, self.device,
                           self.recipe.compute.channels_last)

    def autocast(self):
        """Context for a training forward pass and its loss (``compute.precision``)."""
        return autocast(self.recipe.compute, self.device)

    def evaluate(self, model, forward: Callable, limit: int | None = None) -> list[float]:
        return evaluate(model, forward, self.test, self.device, limit)

    def progress(self, total: int, desc: str, initial: int = 0, unit: str = "it"):
        return progress_bar(total, desc, self.show_progress, initial, unit)


#: Method name -> ``fn(ctx) -> TrainResult``; methods register from testbed/train/<name>.py.
METHODS: Registry[Callable[[Context], TrainResult]] = Registry("training method")

#: Method name -> ``check(ctx)``, run before the teacher and before the run folder is
#: claimed, so that a recipe the method will refuse (a ConfigError) fails in seconds and
#: leaves no run folder behind.
PREFLIGHT: Registry[Callable[[Context], None]] = Registry("training preflight check")


def run_training(recipe: Recipe, data_root, out_dir, device: str = "cpu", *,
                 command: str | None = None, show_progress: bool | str = True,
                 hook: Callable | None = None, teacher_cache: str | Path | None = None) -> dict:
    """Train ``recipe`` into ``out_dir`` (resuming it if interrupted); return training.json.
    The teacher cache defaults to ``<out_dir>/../teachers``."""
    out = Path(out_dir)
    _check_run_dir(out, recipe)
    if (out / "training.json").is_file() and (out / "model.pt").is_file():
        return json.loads((out / "training.json").read_text())
    method = METHODS.get(recipe.method, recipe.file, "method")
    dev = _device(device)
    if recipe.compute.threads is not None:
        torch.set_num_threads(recipe.compute.threads)
    train, test = _splits(recipe, data_root)
    ctx = Context(recipe, train, test, dev, out,
                  original_macs(recipe.arch, len(train.classes), train.info.shape),
                  show_progress=show_progress, hook=hook)
    if recipe.method in PREFLIGHT:
        PREFLIGHT.get(recipe.method)(ctx)
    _claim_run_dir(out, recipe)
    ctx.teacher = get_teacher(recipe, train, test, dev, Path(teacher_cache or out.parent / "teachers"),
                              show_progress, hook)
    if not (out / "teacher.pt").is_file():
        shutil.copyfile(ctx.teacher.path, out / "teacher.pt")
    result = method(ctx)
    return _finish(ctx, result, command)


def _check_run_dir(out: Path, recipe: Recipe) -> None:
    """A run folder belongs to one recipe: resuming with a different one is an error."""
    mine = out / "recipe.json"
    if mine.is_file() and not same_recipe(mine.read_text(), recipe_fingerprint(recipe)):
        raise ConfigError(recipe.file, None, f"the recipe that started {out} "
                          f"(see {mine}); use another --out for a different recipe")


def _claim_run_dir(out: Path, recipe: Recipe) -> None:
    """Mark ``out`` as this recipe's run folder (after the recipe passed its checks)."""
    _check_run_dir(out, recipe)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(recipe_fingerprint(recipe))


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TestbedError("--device cuda: no CUDA device is available here")
    return torch.device(name)


def _splits(recipe: Recipe, root) -> tuple[Split, Split]:
    train = _head(load_split(recipe.dataset, root, "train"), recipe.data.train_limit)
    test = _head(load_split(recipe.dataset, root, "test"), recipe.data.test_limit)
    return train, test


def _head(split: Split, n: int | None) -> Split:
    if n is None or n >= len(split):
        return split
    return Split(split.name, split.split, split.images[:n], split.labels[:n], split.classes)


def _finish(ctx: Context, result: TrainResult, command: str | None) -> dict:
    """Write model.pt, then training.json (its presence marks the run complete)."""
    r, wall = ctx.recipe, round(ctx.wall_time(), 1)
    training = {"recipe": r.name, "recipe_file": r.file, "seed": r.seed, **result.progress,
                "samples_seen": result.samples_seen,
                "teacher_samples_seen": ctx.teacher.samples_seen, "wall_time_s": wall,
                "device": str(ctx.device), "attempts": ctx.attempts(), "project_version": __version__, "command": command}
    meta = {"method": r.method, "name": r.bundle, "arch": r.arch, "dataset": r.dataset,
            "classes": list(ctx.train.classes), "input": _input_meta(ctx.train),
            "original_macs": ctx.original_macs, "original_accuracy": ctx.teacher.accuracy,
            "training": training, "test_accuracy": list(result.accuracy),
            "subnet_macs": list(result.macs), "subnet_macs_dense": list(result.macs_dense)}
    save_checkpoint(ctx.run_dir / "model.pt", result.model, meta)
    summary = _summary(ctx, result, meta)
    health = _health(ctx, result.model)
    if health is not None:
        summary = {**summary, "stage_health": health}
    tmp = ctx.run_dir / ".training.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(ctx.run_dir / "training.json")
    RunState(ctx.run_dir / "state.pt").clear()
    return summary


HEALTH_IMAGES = 2000     # test images the final stage-health check runs on


def _health(ctx: Context, model) -> dict | None:
    """Dead units and silent steps of a nested (incremental) model (:mod:`.health`)."""
    from ..nets import NestedNet
    from .common import quick_subset
    from .health import stage_health
    if not isinstance(model, NestedNet):
        return None
    idx = quick_subset(len(ctx.test), HEALTH_IMAGES)
    x = normalize(ctx.test.images[idx], ctx.test.info.mean, ctx.test.info.std).to(ctx.device)
    return stage_health(model, x, ctx.test.labels[idx].to(ctx.device))


def _input_meta(split: Split) -> dict:
    """Normalisation the caller applies: x = (pixel / 255 - mean) / std, per channel."""
    info = split.info
    return {"shape": list(info.shape), "mean": list(info.mean), "std": list(info.std)}


def _summary(ctx: Context, result: TrainResult, meta: dict) -> dict:
    ref, targets = ctx.original_macs, ctx.recipe.targets
    subnets = [{"index": k + 1, "target_pct": _pct(targets[k] * ref, ref) if k < len(targets) else None,
                "macs": m, "macs_pct": _pct(m, ref), "macs_dense": d, "macs_dense_pct": _pct(d, ref),
                "accuracy": a}
               for k, (m, d, a) in enumerate(zip(result.macs, result.macs_dense, result.accuracy))]
    return {"method": meta["method"], "name": meta["name"], "arch": meta["arch"],
            "dataset": meta["dataset"], "num_classes": ctx.num_classes, "original_macs": ref,
            "original_accuracy": meta["original_accuracy"], "subnets": subnets,
            "samples_seen": result.samples_seen,
            "teacher_samples_seen": meta["training"]["teacher_samples_seen"],
            "wall_time_s": meta["training"]["wall_time_s"], "device": meta["training"]["device"],
            "ablations": result.ablations, "training": meta["training"],
            "checkpoint": "model.pt", "teacher_checkpoint": str(ctx.teacher.path),
            "recipe": recipe_dict(ctx.recipe), **result.extra, "history": result.history}


def _pct(macs: float, ref: int) -> float:
    return round(100.0 * macs / ref, 3)
