"""The platform a system runs on, and what one step of a bundle costs there.

``platform:`` in a scenario gives the peak throughput, a fixed per-stage overhead, the
energy per MAC, the idle power and the period of the budget monitor every policy reads
(:mod:`testbed.sim.monitor`). :func:`step_costs` turns a bundle's manifest (cost
models ``macs`` / ``macs_dense``) or its ``profile.json`` (cost model ``profiled``, written
by ``testbed profile``) or the calibrated latency model (cost model ``latency``,
``platform.latency``: :mod:`testbed.sim.latency`) into the work each step needs, in
MAC-equivalents at peak, which the engine integrates against the budget trace. The
platform section may name a platform file (``platform: {file: platforms/host.yaml, ...}``,
written by ``testbed calibrate``): its keys are the defaults, the section's own keys
override them (``latency`` merged key by key). A *step* is stage k of an incremental
bundle (given stages 1..k-1) or subnet k from scratch of a non-incremental one: in both
cases its cost is the manifest's ``stages[k-1]`` entry.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..bundle import Bundle
from ..errors import ConfigError
from .latency import LatencyModel, StageGraph, load_samples, step_ms
from .params import num, parse

COST_MODELS = ("macs", "macs_dense", "profiled", "latency")
PROFILE_FILE = "profile.json"


@dataclass(frozen=True)
class Platform:
    peak_gmacs: float = num(gt=0)           # throughput at budget 1.0
    stage_overhead_ms: float = num(0.0, ge=0)  # per step at budget 1.0 (launch, copies)
    pj_per_mac: float = num(0.0, ge=0)      # dynamic energy; 0 = unknown
    idle_w: float = num(0.0, ge=0)          # for reports: power when nothing runs
    profile_scale: float = num(1.0, gt=0)   # platform ms per profiled host ms (profiled)
    monitor_ms: float = num(1.0, gt=0)      # budget monitor's sampling period (every policy)
    latency: LatencyModel | None = None     # the calibrated model (cost_model: latency)


@dataclass(frozen=True)
class StepCosts:
    work_macs: tuple[float, ...]  # step k (index k-1): MAC-equivalents at peak, overhead included
    macs: tuple[float, ...]       # step k: MACs it executes (reported, energy)


def step_costs(bundle: Bundle, platform: Platform, cost_model: str,
               profile_ms: tuple[float, ...] | None = None,
               graphs: tuple[StageGraph, ...] | None = None) -> StepCosts:
    stages = bundle.manifest.stages
    peak = platform.peak_gmacs * 1e9
    overhead = platform.stage_overhead_ms / 1e3 * peak
    if cost_model == "latency":
        if graphs is None or platform.latency is None:
            raise ValueError("cost model 'latency' needs platform.latency and the stage graphs")
        work = [ms / 1e3 * peak for ms in step_ms(platform.latency, graphs, platform.peak_gmacs)]
        macs = [float(s.macs_dense) for s in stages]
    elif cost_model == "profiled":
        if profile_ms is None:
            raise ValueError("cost model 'profiled' needs the bundle's profile")
        work = [ms * platform.profile_scale / 1e3 * peak for ms in profile_ms]
        macs = [float(s.macs_dense) for s in stages]
    else:
        macs = [float(getattr(s, cost_model)) for s in stages]
        work = macs
    return StepCosts(tuple(w + overhead for w in work), tuple(macs))


def read_profile(bundle: Bundle) -> tuple[float, ...]:
    """Per-stage median latency (ms) on the profiling host, from ``profile.json``."""
    path = Path(bundle.path) / PROFILE_FILE
    if not path.is_file():
        raise ConfigError(path, None, "a profile of the bundle (cost_model: profiled needs it; "
                          f"run `testbed profile {bundle.path}` first)", "no such file")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(path, None, "valid JSON", str(exc)) from None
    stages = raw.get("stages") if isinstance(raw, dict) else None
    k = bundle.manifest.num_stages
    if not isinstance(stages, list) or len(stages) != k:
        raise ConfigError(path, "stages", f"a list of {k} entries, one per stage", stages)
    return tuple(_median(s, i, path) for i, s in enumerate(stages))


def _median(entry: object, i: int, path: Path) -> float:
    if not isinstance(entry, dict) or entry.get("index") != i + 1:
        raise ConfigError(path, f"stages.{i}", f"an object with index {i + 1}", entry)
    ms = entry.get("median_ms")
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms <= 0:
        raise ConfigError(path, f"stages.{i}.median_ms", "a latency in ms > 0", ms)
    return float(ms)


def load_platform(raw: object, file: Path, cost_model: str = "macs") -> Platform:
    """``platform:`` of scenario ``file``, with the platform file it names (``file:``,
    relative to the scenario) as defaults and the variability samples read."""
    where, base = "platform", file.parent
    if isinstance(raw, dict) and "file" in raw:
        ref = raw["file"]
        if not isinstance(ref, str) or not ref:
            raise ConfigError(file, "platform.file", "a platform YAML file (relative to the "
                              "scenario file)", ref)
        path = base / ref
        if not path.is_file():
            raise ConfigError(file, "platform.file", "an existing platform YAML file "
                              "(relative to the scenario file)", ref)
        defaults = _platform_file(path)
        own = {k: v for k, v in raw.items() if k != "file"}
        own_samples = (own.get("latency") or {}).get("variability", {}) \
            if isinstance(own.get("latency"), dict) else {}
        if not (isinstance(own_samples, dict) and "file" in own_samples):
            base = path.parent  # the samples file is relative to the file that names it
        raw = _merge(defaults, own)
    platform = parse(Platform, raw, str(file), where)
    if cost_model == "latency" and platform.latency is None:
        raise ConfigError(file, "platform.latency", "a latency model {gmacs, launch_ms, "
                          "node_us, gbps, variability} or a platform `file` with one "
                          "(cost_model: latency needs it; `testbed calibrate` writes one)")
    if platform.latency is not None and platform.latency.variability.file is not None:
        var = load_samples(platform.latency.variability, base, file,
                           "platform.latency.variability")
        platform = dataclasses.replace(
            platform, latency=dataclasses.replace(platform.latency, variability=var))
    return platform


def _platform_file(path: Path) -> dict:
    """A platform file, validated on its own (its errors name it and its fields)."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(path, None, "a readable platform YAML file (e.g. written by "
                          "`testbed calibrate`)", getattr(exc, "strerror", None)
                          or str(exc).splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "a mapping of platform keys", raw)
    parse(Platform, raw, str(path), "")
    return raw


def _merge(base: dict, over: dict) -> dict:
    """``base`` updated by ``over``, mappings merged key by key."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) \
            else value
    return out
