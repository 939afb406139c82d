"""Training recipes: a YAML file validated at the edge into frozen dataclasses.

First step of ``testbed train``: :func:`load_recipe` reads the file, rejects unknown keys
and wrong types with :class:`~testbed.errors.ConfigError` (file, field, expected, got) and
fills in the paper's per-architecture defaults. Common keys are the fields of
:class:`Recipe`; the one section named after the method (e.g. ``steppingnet:``) is parsed
into the dataclass that method registered with ``@SECTIONS.register(name)``, using the
same :func:`parse_section`. Inner code never sees a raw dict.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from ..arch import ARCHS
from ..errors import ConfigError
from ..registry import Registry

#: Method name -> frozen dataclass of that method's recipe section.
SECTIONS: Registry[type] = Registry("training method")

# Paper §IV: expansion ratios and MAC targets (fractions of the original network's MACs).
PAPER_WIDTH = {"lenet3c1l": 1.8, "lenet5": 2.0, "vgg16": 1.8}
PAPER_TARGETS = {"lenet3c1l": (0.10, 0.30, 0.50, 0.85), "lenet5": (0.15, 0.30, 0.60, 0.85),
                 "vgg16": (0.20, 0.40, 0.50, 0.70)}


def knob(default: Any, check=None, expected: str | None = None):
    """A dataclass field with a default and an optional validity check (value -> bool)."""
    return field(default=default, metadata={"check": check, "expected": expected})


def _positive(v) -> bool:
    return v is None or v > 0


def _unit(v) -> bool:
    return 0.0 <= v <= 1.0


@dataclass(frozen=True)
class Schedule:
    """Learning rate over one training phase (a fraction 0..1 of it): see
    :func:`testbed.train.common.lr_at`. ``schedule: cosine`` is short for ``{kind: cosine}``."""
    SHORTHAND = "kind"
    kind: str = knob("cosine", lambda v: v in ("cosine", "linear", "constant"),
                     "cosine, linear or constant")
    warmup_frac: float = knob(0.0, _unit, "a fraction in [0, 1]")
    final_lr_frac: float = knob(0.0, _unit, "a fraction in [0, 1]")   # lr at the end / base lr


@dataclass(frozen=True)
class Optimizer:
    """SGD with momentum: the optimiser of every method (gradient scaling for the
    per-weight LR suppression is exact for plain SGD steps; see common.py)."""
    name: str = knob("sgd", lambda v: v == "sgd", "sgd")
    lr: float = knob(0.05, _positive, "> 0")
    momentum: float = knob(0.9, lambda v: 0.0 <= v < 1.0, "in [0, 1)")
    weight_decay: float = knob(5e-4, lambda v: v >= 0, ">= 0")
    nesterov: bool = False


@dataclass(frozen=True)
class TeacherCfg:
    """The original (width 1.0) network: MAC reference and distillation teacher. Its own
    optimiser settings, so every method of an arch/dataset/seed shares one teacher."""
    epochs: int = knob(30, lambda v: v >= 0, ">= 0")
    lr: float = knob(0.05, _positive, "> 0")
    momentum: float = knob(0.9, lambda v: 0.0 <= v < 1.0, "in [0, 1)")
    weight_decay: float = knob(5e-4, lambda v: v >= 0, ">= 0")
    batch_size: int = knob(128, _positive, "> 0")
    schedule: Schedule = Schedule()
    checkpoint: str | None = None     # a trained teacher checkpoint to use instead (relative to the recipe)


@dataclass(frozen=True)
class DataCfg:
    """Optional caps (the first N samples of a split) for smoke runs, and augmentation."""
    train_limit: int | None = knob(None, _positive, "> 0")
    test_limit: int | None = knob(None, _positive, "> 0")
    augment: bool = True


@dataclass(frozen=True)
class Compute:
    """How the arithmetic runs; none of it changes what is trained, except ``precision``.
    ``threads``: torch's intra-op threads (None: torch's default, one per core; small
    networks such as LeNet-5 run steadier on 1 when the host is shared, issue 19).
    ``channels_last``: image batches in NHWC, which CPU convolution kernels prefer.
    ``precision``: ``bf16`` runs forward passes under bfloat16 autocast (faster on CPU;
    the accuracy it costs is measured by scripts/bench_train.py, so it is opt-in)."""
    threads: int | None = knob(None, _positive, "> 0")
    channels_last: bool = True
    precision: str = knob("fp32", lambda v: v in ("fp32", "bf16"), "fp32 or bf16")


@dataclass(frozen=True)
class Recipe:
    name: str
    method: str
    arch: str
    dataset: str
    width: float | None = knob(None, _positive, "> 0")         # None: the paper's ratio for arch
    targets: tuple[float, ...] | None = None                    # None: the paper's targets for arch
    seed: int = 0
    batch_size: int = knob(128, _positive, "> 0")
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    teacher: TeacherCfg = TeacherCfg()
    data: DataCfg = DataCfg()
    compute: Compute = Compute()
    bundle_name: str | None = None                              # default "<arch>-<dataset>-<method>"
    params: Any = field(default=None, metadata={"yaml": False})   # the method's section
    file: str | None = field(default=None, metadata={"yaml": False})

    @property
    def num_steps(self) -> int:
        return len(self.targets)

    @property
    def bundle(self) -> str:
        return self.bundle_name or f"{self.arch}-{self.dataset}-{self.method}"


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, None, "an existing recipe file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"valid YAML ({exc})") from None
    return parse_recipe(raw, str(path))


def parse_recipe(raw: Any, file: str | None = None) -> Recipe:
    """Validate a recipe mapping (common keys + the method's section)."""
    from . import import_methods
    import_methods()
    if not isinstance(raw, dict):
        raise ConfigError(file, None, "a mapping of recipe keys", raw)
    method = raw.get("method")
    section_cls = SECTIONS.get(method, file, "method")
    common = {k: v for k, v in raw.items() if k != method}
    recipe = parse_section(Recipe, common, file, "")
    recipe = _with_defaults(recipe, file)
    params = parse_section(section_cls, raw.get(method), file, method)
    return dataclasses.replace(recipe, params=params, file=file)


def _with_defaults(r: Recipe, file: str | None) -> Recipe:
    ARCHS.get(r.arch, file, "arch")
    from ..data import DATASETS
    if r.dataset not in DATASETS:
        raise ConfigError(file, "dataset", f"one of {', '.join(DATASETS)}", r.dataset)
    width = r.width if r.width is not None else PAPER_WIDTH.get(r.arch, 1.0)
    targets = r.targets if r.targets is not None else PAPER_TARGETS.get(r.arch)
    if not targets or any(t <= 0 for t in targets) or list(targets) != sorted(set(targets)):
        raise ConfigError(file, "targets", "a non-empty, strictly increasing list of fractions > 0",
                          None if targets is None else list(targets))
    return dataclasses.replace(r, width=float(width), targets=tuple(float(t) for t in targets))


def parse_section(cls: type, raw: Any, file: str | None, where: str):
    """Build frozen dataclass ``cls`` from a YAML mapping (``None``: all defaults)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) and hasattr(cls, "SHORTHAND"):
        raw = {cls.SHORTHAND: raw}
    if not isinstance(raw, dict):
        raise ConfigError(file, where or None, "a mapping", raw)
    presets = getattr(cls, "PRESETS", None)
    if presets and raw.get("preset") in presets:  # a preset's defaults; given keys win
        raw = {**presets[raw["preset"]], **raw}
    hints = get_type_hints(cls)
    known = [f for f in fields(cls) if f.metadata.get("yaml", True)]
    names = {f.name for f in known}
    for key in raw:
        if key not in names:
            raise ConfigError(file, _join(where, key),
                              f"a known key (one of {', '.join(sorted(names))})", key)
    values = {}
    for f in known:
        path = _join(where, f.name)
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(file, path, "a value (required)")
            continue
        values[f.name] = _convert(hints[f.name], raw[f.name], file, path)
        check = f.metadata.get("check")
        if check is not None and values[f.name] is not None and not check(values[f.name]):
            raise ConfigError(file, path, f.metadata.get("expected") or "a valid value", raw[f.name])
    return cls(**values)


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _convert(tp: Any, value: Any, file: str | None, path: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or type(tp).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, file, path)
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, file, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(file, path, "a list", value)
        return tuple(_convert(args[0], v, file, f"{path}[{i}]") for i, v in enumerate(value))
    return _scalar(tp, value, file, path)


def _scalar(tp: Any, value: Any, file: str | None, path: str) -> Any:
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    raise ConfigError(file, path, names.get(tp, str(tp)), value)


def recipe_dict(recipe: Recipe) -> dict:
    """The full recipe as plain JSON-able data (defaults filled in), method section included."""
    out = {f.name: _plain(getattr(recipe, f.name)) for f in fields(recipe) if f.metadata.get("yaml", True)}
    out[recipe.method] = _plain(recipe.params)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def recipe_fingerprint(recipe: Recipe) -> str:
    """Canonical JSON of the recipe: what a resumed run must match."""
    return json.dumps(recipe_dict(recipe), sort_keys=True)


# Recipe keys added after runs had started, with the value those runs trained with: a
# run folder's recipe.json without one of them is read as holding that value, so that
# the run can still be resumed (section, key): value.
ADDED_LATER = {("steppingnet", "revive_dead"): False, ("static", "units"): None}


def same_recipe(stored: str, fingerprint: str) -> bool:
    """Whether a run folder's ``recipe.json`` (``stored``) is the recipe ``fingerprint``
    describes, counting keys added since (:data:`ADDED_LATER`) at their old value."""
    if stored == fingerprint:
        return True
    try:
        old = json.loads(stored)
    except ValueError:
        return False
    return json.dumps(with_later_keys(old), sort_keys=True) == fingerprint


def with_later_keys(recipe: dict) -> dict:
    """A copy of a recorded recipe (:func:`recipe_dict`) holding every key added since
    (:data:`ADDED_LATER`) at the value it trained with."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in recipe.items()}
    for (section, key), value in ADDED_LATER.items():
        if isinstance(out.get(section), dict):
            out[section].setdefault(key, value)
    return out
