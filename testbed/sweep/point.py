"""One grid point: load the base scenario with the point's overrides, simulate it, and
turn the records into table rows (one per system) of every metric.

Runs inside a worker process (local pool or Dask), so it takes and returns plain data.
Rows hold the point's parameters under their dotted names, plus ``deadline_ms`` (of the
first job class) and ``mean_budget`` (time-weighted over the run) for the sweep plots, and
the policy each system ran. Systems whose policy is a grid or ``auto`` are tuned first
(:mod:`testbed.tuning`, on the tuning seeds, never the point's seed); points that differ
only in their seed share one tuning (cached per worker process).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass

from .spec import Point


@dataclass(frozen=True)
class PointTask:
    base: str                      # scenario path
    duration_s: float | None

    def __call__(self, point: Point) -> list[dict]:
        return run_point(self.base, point, self.duration_s)


def load_point(base: str, point: Point, duration_s: float | None):
    from ..scenario import load_scenario
    return load_scenario(base, overrides=point.params, duration_s=duration_s)


def run_point(base: str, point: Point, duration_s: float | None) -> list[dict]:
    from ..report.metrics import seed_summaries
    from ..sim.engine import simulate
    from ..tuning import policy_name
    scenario = load_point(base, point, duration_s)
    unseeded = {k: v for k, v in point.params.items() if k != "seed"}
    chosen = _tuned(base, json.dumps(unseeded, sort_keys=True), duration_s)
    scenario = dataclasses.replace(scenario, systems=tuple(
        dataclasses.replace(s, policy=chosen.get(s.name, s.policy)) for s in scenario.systems))
    result = simulate(scenario, keep_events=False)
    summaries = seed_summaries(result.records, idle_w=scenario.platform.idle_w,
                               duration_s=scenario.duration_s, systems=result.systems,
                               seed=result.seed, quality_bar=scenario.quality_bar,
                               mk=scenario.mk)
    common = {"point": point.index, "point_key": point.key, **point.params,
              "deadline_ms": scenario.workload[0].deadline_ms,
              "mean_budget": mean_budget(result.trace, scenario.duration_s,
                                         scenario.platform.peak_gmacs)}
    policies = {s.name: policy_name(s.policy) for s in scenario.systems}
    return [{**common, "system": s.system, "seed": s.seed, "policy": policies[s.system],
             **s.metrics} for s in summaries]


@functools.lru_cache(maxsize=64)
def _tuned(base: str, unseeded: str, duration_s: float | None) -> dict:
    """{system: chosen policy} for the point's settings without its seed."""
    from ..api import tune
    from ..scenario import load_scenario
    scenario = load_scenario(base, overrides=json.loads(unseeded), duration_s=duration_s)
    if not any(s.candidates for s in scenario.systems):
        return {}
    tuned, _ = tune(scenario)
    return {s.name: s.policy for s in tuned.systems}


def mean_budget(trace, duration_s: float, peak_gmacs: float) -> float:
    """Time-weighted mean budget over the run, as a fraction of the platform's peak."""
    from ..sim.trace import work_between
    return work_between(trace, 0.0, duration_s, peak_gmacs) / (peak_gmacs * 1e9 * duration_s)
