"""Scenario files: YAML -> one validated, frozen :class:`Scenario` (DESIGN.md §7).

The edge of the simulator: everything a scenario says is checked here, as a whole, before
anything runs (unknown keys, types, ranges, bundles that do not exist, a policy that does
not fit its bundle or the workload), and each problem is a :class:`ConfigError` naming the
file and the dotted field (``systems.2.policy.name``). Paths resolve relative to the
scenario file. Overrides (``{"workload.0.deadline_ms": 20}``) edit the raw YAML before
validation, so they are checked like the file itself. Inner code never sees raw dicts.

Top-level keys: ``name``, ``description``, ``seed``, ``duration_s``, ``platform``,
``budget``, ``workload``, ``cost_model``, ``systems`` (see ``scenarios/*.yaml``), and
optionally ``faults`` (:mod:`testbed.sim.faults`; ``scenarios/faults.yaml``) and the keys
of a fair comparison (issue 16; docs/formats.md): ``seeds`` (evaluation seeds per run),
``objective`` (what tuning maximises), ``tuning`` (its seeds and duration),
``reference`` (the system paired differences are taken against), ``quality`` (the bar
of ``hit_at_quality``), ``mk`` (the (m,k)-firm window) and ``bounds`` (oracle systems
added beside every system). A system's ``policy`` may be a grid or ``auto``
(:mod:`testbed.tuning`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .bundle import Bundle, is_dir, is_file, load_bundle
from .errors import BundleError, ConfigError, TestbedError
from .sim.budgets import BUDGETS, TraceFile
from .sim.faults import Faults
from .sim.params import failer, join, parse, parse_kind
from .sim.platform import COST_MODELS, Platform, load_platform, read_profile
from .sim.policies import POLICIES, Policy
from .sim.rt.tasks import check_task_set, parse_task_set
from .sim.workload import JobClass, parse_workload
from .tuning import OBJECTIVES, TuningSpec, candidates

TOP_KEYS = ("name", "description", "seed", "duration_s", "platform", "budget", "workload",
            "cost_model", "systems", "faults", "seeds", "objective", "tuning", "reference",
            "quality", "mk", "bounds")
BOUNDS = ("budget_oracle", "oracle")
QUALITY_SLACK = 0.05  # default hit-at-quality bar: best largest-subnet accuracy minus this
REQUIRED = ("duration_s", "platform", "budget", "workload", "systems")
SYSTEM_KEYS = ("name", "model", "policy")
MAX_EVENTS = 1e8  # arrivals, budget steps or fault windows one run may draw (beyond: it
#                   could not finish, and numpy cannot draw that many Poisson events)


@dataclass(frozen=True)
class SystemSpec:
    name: str
    model: Path                  # the bundle folder, resolved
    bundle: Bundle
    policy: Policy
    profile_ms: tuple[float, ...] | None = None  # per stage, for cost_model: profiled
    graphs: tuple | None = None  # per stage: StageGraph, for cost_model: latency
    candidates: tuple[Policy, ...] = ()  # settings to tune over (two or more), else ()
    bound_of: str | None = None          # a bound system: the system whose bundle it drives
    classes: tuple = ()  # task sets: ClassModel per workload class with its own bundle


@dataclass(frozen=True)
class ClassModel:
    """A workload class that a system runs with its own bundle and policy."""
    job_class: int               # index into the workload
    model: Path
    bundle: Bundle
    policy: Policy
    profile_ms: tuple[float, ...] | None = None
    graphs: tuple | None = None
    name: str = ""               # the class's name


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: Path
    seed: int
    duration_s: float
    platform: Platform
    budget: object               # a generator from BUDGETS, or a FixedTrace
    workload: tuple[JobClass, ...]
    cost_model: str
    systems: tuple[SystemSpec, ...]
    faults: Faults | None = None  # None: a fault-free platform
    seeds: int = 1                # evaluation seeds per run (seed, seed + 1, ...)
    objective: str = "accuracy_at_deadline"  # what tuning maximises
    tuning: TuningSpec = TuningSpec()
    reference: str = ""           # paired differences are against this system
    quality_bar: float = 0.0      # hit_at_quality: an answer from a model this accurate
    mk: tuple[int, int] = (9, 10)  # (m,k)-firm: at least m hits in any k consecutive jobs
    raw: dict = field(compare=False, repr=False, default_factory=dict)

    @property
    def horizon_s(self) -> float:
        """Until when anything can happen: the last frame's deadline at the latest."""
        return self.duration_s + max(c.deadline_ms for c in self.workload) / 1e3

    @property
    def sample_ids(self) -> np.ndarray:
        return self.systems[0].bundle.eval.sample_ids


def load_scenario(path: str | os.PathLike, *, overrides: dict[str, object] | None = None,
                  seed: int | None = None, duration_s: float | None = None,
                  trace_path: str | None = None, with_systems: bool = True) -> Scenario:
    """Read, override and validate a scenario; load every bundle it names (once).
    ``with_systems=False`` skips the systems (and their bundles): enough for the trace."""
    file = Path(path)
    return scenario_from_raw(read_yaml(file), file, list((overrides or {}).items()),
                             seed=seed, duration_s=duration_s, trace_path=trace_path,
                             with_systems=with_systems)


def scenario_from_raw(raw: dict, file: Path, overrides=(), *, seed: int | None = None,
                      duration_s: float | None = None, trace_path=None, create: bool = False,
                      with_systems: bool = True) -> Scenario:
    """``raw`` (a scenario's YAML data, edited in place) validated as the file ``file``,
    after ``overrides`` — ``(dotted path, value)`` pairs applied in order; with ``create``
    the last part of a path may add a key (as ``--set``) — then ``seed``, ``duration_s``
    and a budget trace file replacing ``budget:``."""
    for dotted, value in overrides:
        apply_override(raw, dotted, value, file, create=create)
    for key, value in (("seed", seed), ("duration_s", duration_s)):
        if value is not None:
            raw[key] = value
    if trace_path is not None:
        raw["budget"] = _trace_budget(raw.get("budget"), str(trace_path))
    return parse_scenario(raw, file, with_systems)


def _trace_budget(budget: object, trace_path: str) -> dict:
    """``budget:`` replaced by a trace file (keeping the scenario's ``after`` if it had one;
    else the trace holds its last value after its last row)."""
    after = budget.get("after", "hold") if isinstance(budget, dict) else "hold"
    return {"kind": "trace", "file": str(Path(trace_path).resolve()), "after": after}


def select_systems(scenario: Scenario, keep) -> Scenario:
    """``scenario`` with only the systems in ``keep`` (names, or indices into its
    ``systems:`` list), in scenario order; each bound (``NAME@budget_oracle``) follows the
    system it bounds. A ``reference`` not kept falls back to the first kept system; the
    quality bar stays the whole scenario's, so a kept system's metrics do not change.
    ``raw`` is edited to match (an override re-validates the selection)."""
    own = [s.name for s in scenario.systems if s.bound_of is None]
    names = {_system_name(item, own, scenario.path) for item in keep}
    if not names:
        raise TestbedError(f"{scenario.path}: expected at least one system to keep "
                           f"({', '.join(own)})")
    reference = scenario.reference if scenario.reference in names else \
        next(n for n in own if n in names)
    raw = {**scenario.raw, "reference": reference, "quality": scenario.quality_bar,
           "systems": [s for s in scenario.raw["systems"] if s["name"] in names]}
    return dataclasses.replace(
        scenario, systems=tuple(s for s in scenario.systems if (s.bound_of or s.name) in names),
        reference=reference, raw=raw)


def _system_name(item: str | int, own: list[str], file: Path) -> str:
    if item in own:
        return item
    text = str(item).strip()
    if text in own:
        return text
    if text.isdigit() and int(text) < len(own):
        return own[int(text)]
    raise TestbedError(f"unknown system {item!r}: {file.name} has {', '.join(own)} (or an "
                       f"index 0-{len(own) - 1}); bounds follow the system they bound")


def read_yaml(file: Path) -> dict:
    try:
        raw = yaml.safe_load(file.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(file, None, "a readable scenario YAML file", reason) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ConfigError(file, where, "valid YAML", getattr(exc, "problem", str(exc))) from None
    if not isinstance(raw, dict):
        raise ConfigError(file, None, "a mapping of scenario keys", raw)
    return raw


def apply_override(raw: dict, dotted: str, value: object, file: Path, *,
                   create: bool = False) -> None:
    """Set ``raw[a][b][0]...`` for ``"a.b.0..."``; the path must exist in the scenario.
    A list item may be named by its index or by its ``name`` key (``systems.static``,
    ``workload.camera``; an index wins over a name made of digits). ``create``: the last
    part may also add a key to a mapping (validation then judges the key)."""
    parts, node = str(dotted).split("."), raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key = _child_key(node, part)
        if key is None and last and create and isinstance(node, dict) and part:
            key = part
        if key is None:
            scalar = "" if isinstance(node, (dict, list)) else \
                f" ({'.'.join(parts[:depth])} is {node!r}, which has no parts)"
            raise ConfigError(file, dotted, f"a key, list index or item name present in the "
                              f"scenario{scalar}: overrides replace existing values",
                              ".".join(parts[:depth + 1]))
        if last:
            node[key] = copy.deepcopy(value)
        else:
            node = node[key]


def _child_key(node: object, part: str):
    if isinstance(node, dict) and part in node:
        return part
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return int(part)
    if isinstance(node, list):
        named = [i for i, item in enumerate(node) if isinstance(item, dict)
                 and item.get("name") == part]
        return named[0] if len(named) == 1 else None
    return None


def parse_scenario(raw: dict, file: Path, with_systems: bool = True) -> Scenario:
    _check_keys(raw, TOP_KEYS, REQUIRED, file, "")
    base = file.parent
    workload = parse_workload(raw["workload"], str(file))
    cost_model = raw.get("cost_model", "macs")
    if cost_model not in COST_MODELS:
        raise ConfigError(file, "cost_model", f"one of {', '.join(COST_MODELS)}", cost_model)
    scenario = _scenario(raw, file, base, workload, cost_model, with_systems)
    check_task_set(scenario, file)
    for where in ("workload", "budget", "faults"):
        _check_scale(getattr(scenario, where), scenario.horizon_s, file, where)
    return scenario


def _scenario(raw: dict, file: Path, base: Path, workload, cost_model: str,
              with_systems: bool) -> Scenario:
    faults = _faults(raw.get("faults"), file, workload)
    systems = (_systems(raw["systems"], file, base, workload, cost_model, faults,
                        _bounds(raw.get("bounds", []), file)) if with_systems else ())
    return Scenario(
        name=_string(raw.get("name", file.stem), file, "name"),
        description=str(raw.get("description", "")).strip(),
        path=file,
        seed=_seed(raw.get("seed", 0), file),
        duration_s=_duration(raw["duration_s"], file),
        platform=load_platform(raw["platform"], file, cost_model),
        budget=_budget(raw["budget"], file, base),
        workload=workload,
        cost_model=cost_model,
        systems=systems,
        faults=faults,
        seeds=_count(raw.get("seeds", 1), file, "seeds"),
        objective=_choice(raw.get("objective", OBJECTIVES[0]), OBJECTIVES, file, "objective"),
        tuning=parse(TuningSpec, raw.get("tuning", {}), str(file), "tuning"),
        reference=_reference(raw.get("reference"), systems, file),
        quality_bar=_quality(raw.get("quality"), systems, file),
        mk=_mk(raw.get("mk", [9, 10]), file),
        raw=raw,
    )


def _count(value: object, file: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(file, where, "an integer >= 1", value)
    return value


def _choice(value: object, choices, file: Path, where: str) -> str:
    if value not in choices:
        raise ConfigError(file, where, f"one of {', '.join(choices)}", value)
    return value


def _bounds(value: object, file: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or any(v not in BOUNDS for v in value):
        raise ConfigError(file, "bounds", f"a list of bounds from {', '.join(BOUNDS)} "
                          "(each added beside every system)", value)
    return tuple(dict.fromkeys(value))


def _reference(value: object, systems, file: Path) -> str:
    names = [s.name for s in systems if s.bound_of is None]
    if value is None:
        return names[0] if names else ""
    if systems and value not in names:
        raise ConfigError(file, "reference", f"a system name ({', '.join(names)})", value)
    return str(value)


def _quality(value: object, systems, file: Path) -> float:
    """The ``hit_at_quality`` bar; default: the most accurate largest subnet minus 5 points."""
    if value is None:
        best = max((s.bundle.manifest.stages[-1].accuracy for s in systems), default=0.0)
        return round(max(0.0, best - QUALITY_SLACK), 4)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0 <= value <= 1:
        raise ConfigError(file, "quality", "a test accuracy as a fraction in [0, 1] "
                          "(e.g. 0.65)", value)
    return float(value)


def _mk(value: object, file: Path) -> tuple[int, int]:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok or not 1 <= value[0] <= value[1]:
        raise ConfigError(file, "mk", "[m, k] with 1 <= m <= k (at least m hits in any k "
                          "consecutive jobs)", value)
    return (value[0], value[1])


def _check_scale(node: object, span_s: float, file: Path, where: str) -> None:
    """No rate, period or step may ask for more than MAX_EVENTS events over the run."""
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_scale(item, span_s, file, join(where, i))
    elif isinstance(node, dict):
        for key, item in node.items():
            _check_scale(item, span_s, file, join(where, key))
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if _events(f.name, value, span_s) > MAX_EVENTS:
                raise ConfigError(file, join(where, f.name), f"at most {MAX_EVENTS:.0e} events "
                                  f"over the run's {span_s:g} s (duration_s plus the longest "
                                  "deadline)", value)
            inner = where if f.name == "arrivals" else join(where, f.name)  # flat in YAML
            _check_scale(value, span_s, file, inner)


def _events(name: str, value: object, span_s: float) -> float:
    if not isinstance(value, (int, float, tuple)) or isinstance(value, bool) or value is None:
        return 0.0
    if name == "rate_hz":
        return value * span_s
    if name in ("period_ms", "step_ms"):
        return span_s * 1e3 / value
    if name == "step_s":
        return span_s / value
    if name == "dwell_s":
        return span_s / value[0]
    return 0.0


def _check_keys(raw: dict, allowed, required, file: Path, where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(file, join(where, str(key)), f"a known key ({', '.join(allowed)})",
                              key)
    for key in required:
        if key not in raw:
            raise ConfigError(file, join(where, key), "a value (this key is required)")


def _string(value: object, file: Path, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(file, where, "a non-empty string", value)
    return value


def _seed(value: object, file: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(file, "seed", "an integer >= 0", value)
    return value


def _duration(value: object, file: Path) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ConfigError(file, "duration_s", "a number of seconds > 0", value)
    return float(value)


def _budget(raw: object, file: Path, base: Path):
    if isinstance(raw, dict) and raw.get("kind") == "tasks":  # issue 20: a task set
        return parse_task_set(raw, file)
    budget = parse_kind(BUDGETS, raw, str(file), "budget")
    if isinstance(budget, TraceFile):
        if not is_file(base / budget.file):
            raise ConfigError(file, "budget.file", "an existing trace CSV (relative to the "
                              "scenario file)", budget.file)
        return budget.load(base)
    return budget


def _faults(raw: object, file: Path, workload: tuple[JobClass, ...]) -> Faults | None:
    if raw is None:
        return None
    faults = parse(Faults, raw, str(file), "faults")
    faults.check_classes([c.name for c in workload], failer(str(file), "faults"))
    return faults


def _systems(raw: object, file: Path, base: Path, workload: tuple[JobClass, ...],
             cost_model: str, faults: Faults | None, bounds: tuple[str, ...]
             ) -> tuple[SystemSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(file, "systems", "a non-empty list of systems", raw)
    bundles: dict[Path, Bundle] = {}
    systems = tuple(_system(entry, file, f"systems.{i}", base, workload, cost_model, bundles,
                            faults)
                    for i, entry in enumerate(raw))
    systems += tuple(_bound(spec, name, workload, faults, file)
                     for name in bounds for spec in systems)
    samples = np.unique(systems[0].bundle.eval.sample_ids)
    for i, spec in enumerate(systems):
        if spec.name in [s.name for s in systems[:i]]:
            raise ConfigError(file, f"systems.{i}.name", "a name not used before", spec.name)
        for where, model, bundle in [(f"systems.{i}.model", spec.model, spec.bundle)] + [
                (f"systems.{i}.classes.{workload[c.job_class].name}.model", c.model, c.bundle)
                for c in spec.classes]:
            if not np.array_equal(np.unique(bundle.eval.sample_ids), samples):
                raise ConfigError(file, where, "a bundle evaluated on the same samples as "
                                  "systems.0 (every system must see the same images)",
                                  str(model))
    return systems


def _bound(spec: SystemSpec, name: str, workload, faults, file: Path) -> SystemSpec:
    """``spec``'s bundle driven by the bound policy ``name`` (as system ``spec@name``)."""
    policy = POLICIES.get(name)()
    policy.fit(spec.bundle.manifest, workload, failer(str(file), "bounds"), faults)
    return dataclasses.replace(spec, name=f"{spec.name}@{name}", policy=policy, candidates=(),
                               bound_of=spec.name)


def _system(raw: object, file: Path, where: str, base: Path, workload, cost_model: str,
            bundles: dict[Path, Bundle], faults: Faults | None = None) -> SystemSpec:
    if not isinstance(raw, dict):
        raise ConfigError(file, where, "a mapping with name, model, policy", raw)
    _check_keys(raw, SYSTEM_KEYS + ("classes",), SYSTEM_KEYS, file, where)
    name = _string(raw["name"], file, f"{where}.name")
    model = (base / _string(raw["model"], file, f"{where}.model")).resolve()
    if model not in bundles:
        bundles[model] = _bundle(model, file, f"{where}.model")
    bundle = bundles[model]
    options = _policies(raw["policy"], bundle, workload, faults, file, f"{where}.policy")
    profile = read_profile(bundle) if cost_model == "profiled" else None
    graphs = _graphs(bundle, file, f"{where}.model") if cost_model == "latency" else None
    classes = tuple(_class_model(entry, file, f"{where}.classes.{key}", base, workload,
                                 cost_model, bundles, faults, key)
                    for key, entry in _mapping(raw.get("classes", {}), file,
                                               f"{where}.classes").items())
    return SystemSpec(name, model, bundle, options[0], profile, graphs,
                      options if len(options) > 1 else (), classes=classes)


def _mapping(value: object, file: Path, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(file, where, "a mapping", value)
    return value


def _class_model(raw: object, file: Path, where: str, base: Path, workload, cost_model: str,
                 bundles: dict, faults, name: str) -> ClassModel:
    """A workload class with its own bundle and (fixed, untuned) policy in a system:
    ``classes: {radar: {model, policy}}`` (task-set platforms only; issue 20)."""
    names = [c.name for c in workload]
    if name not in names:
        raise ConfigError(file, where, f"a workload class ({', '.join(names)})", name)
    raw = _mapping(raw, file, where)
    _check_keys(raw, ("model", "policy"), ("model", "policy"), file, where)
    spec = _system({"name": name, **raw}, file, where, base, workload, cost_model, bundles,
                   faults)
    if spec.candidates:
        raise ConfigError(file, f"{where}.policy", "one fixed policy (a class's own model "
                          "is not tuned)", raw["policy"])
    return ClassModel(names.index(name), spec.model, spec.bundle, spec.policy,
                      spec.profile_ms, spec.graphs, name)


def _graphs(bundle: Bundle, file: Path, where: str) -> tuple:
    from .calibrate.graphs import bundle_graphs  # imports onnx: only for cost_model: latency
    return bundle_graphs(bundle, file, where)


def _bundle(model: Path, file: Path, where: str) -> Bundle:
    if not is_dir(model):
        raise ConfigError(file, where, "a model bundle folder (relative to the scenario "
                          "file)", str(model))
    try:
        return load_bundle(model)
    except BundleError as exc:
        raise BundleError(f"{file}: {where}: {exc}") from None


def _policies(raw: object, bundle: Bundle, workload, faults, file: Path, where: str
              ) -> tuple[Policy, ...]:
    """The system's policy, or its candidate settings when it is tuned (first: default)."""
    manifest = bundle.manifest
    kind = "incremental" if manifest.incremental else "non_incremental"
    options = candidates(raw, kind, manifest, file, where)
    for policy in options:
        if kind not in type(policy).bundles:
            fitting = [n for n in POLICIES if kind in POLICIES.get(n).bundles]
            raise ConfigError(file, f"{where}.name", f"a policy for {kind.replace('_', '-')} "
                              f"bundles like {manifest.name} ({manifest.method}): one of "
                              f"{', '.join(fitting)}", raw["name"] if isinstance(raw, dict)
                              else raw)
        policy.fit(manifest, workload, failer(str(file), where), faults)
    return options
