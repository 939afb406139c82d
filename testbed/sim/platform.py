"""The platform a system runs on, and what one step of a bundle costs there.

``platform:`` in a scenario gives the peak throughput, a fixed per-stage overhead, the
energy per MAC, the idle power and the period of the budget monitor every policy reads
(:mod:`testbed.sim.monitor`). :func:`step_costs` turns a bundle's manifest (cost
models ``macs`` / ``macs_dense``) or its ``profile.json`` (cost model ``profiled``, written
by ``testbed profile``) into the work each step needs, in MAC-equivalents at peak, which
the engine integrates against the budget trace. A *step* is stage k of an incremental
bundle (given stages 1..k-1) or subnet k from scratch of a non-incremental one: in both
cases its cost is the manifest's ``stages[k-1]`` entry.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..bundle import Bundle
from ..errors import ConfigError
from .params import num

COST_MODELS = ("macs", "macs_dense", "profiled")
PROFILE_FILE = "profile.json"


@dataclass(frozen=True)
class Platform:
    peak_gmacs: float = num(gt=0)           # throughput at budget 1.0
    stage_overhead_ms: float = num(0.0, ge=0)  # per step at budget 1.0 (launch, copies)
    pj_per_mac: float = num(0.0, ge=0)      # dynamic energy; 0 = unknown
    idle_w: float = num(0.0, ge=0)          # for reports: power when nothing runs
    profile_scale: float = num(1.0, gt=0)   # platform ms per profiled host ms (profiled)
    monitor_ms: float = num(1.0, gt=0)      # budget monitor's sampling period (every policy)


@dataclass(frozen=True)
class StepCosts:
    work_macs: tuple[float, ...]  # step k (index k-1): MAC-equivalents at peak, overhead included
    macs: tuple[float, ...]       # step k: MACs it executes (reported, energy)


def step_costs(bundle: Bundle, platform: Platform, cost_model: str,
               profile_ms: tuple[float, ...] | None = None) -> StepCosts:
    stages = bundle.manifest.stages
    peak = platform.peak_gmacs * 1e9
    overhead = platform.stage_overhead_ms / 1e3 * peak
    if cost_model == "profiled":
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
