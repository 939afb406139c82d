"""Tuning: every system at its best, chosen the same way for every system (issue 16).

Sits between :mod:`testbed.scenario` (which validates a system's ``policy:`` and expands
it into candidate settings with :func:`candidates`) and the evaluation run of
``testbed run``: :func:`tune` simulates every candidate of every tuned system on the
*tuning seeds* — disjoint from the evaluation seeds by construction
(:func:`tuning_seeds`) — scores each by the scenario's ``objective`` (mean over tuning
seeds) and returns the scenario with each system's best setting, plus what was tried.

A system's policy may be

* one setting: ``{name: pick_at_start, margin: 0.5}`` (nothing to tune);
* a grid: ``{name: pick_at_start, margin: 1, tune: {margin: [0, 0.5, 1], restart: [false, true]}}``
  (the product of the lists, other keys fixed);
* ``auto``: every registered online policy that can drive the bundle, each over its own
  default ``GRID`` (:mod:`testbed.sim.policies`); the oracles are bounds and never chosen.

On a task-set platform (``budget: {kind: tasks}``) a candidate must also leave the other
tasks their deadlines: one that makes any of them miss more than
``tuning.max_task_miss_rate`` of its jobs (default 0.1%) is ranked below every candidate
that does not, whatever its objective (and, if none does, by its miss rate first), so a
tuned DNN never buys accuracy with the UI's frames. Ties go to the earlier candidate in
grid order. Large grids are searched in two rounds
(:func:`tune`: successive halving), the same for every system. Candidates are simulated side by side as
systems of one scenario, so every one sees the same trace and frames in each seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .errors import ConfigError, TestbedError
from .report.metrics import group_metrics
from .sim.params import num, parse_kind
from .sim.policies import POLICIES, Policy

OBJECTIVES = ("accuracy_at_deadline", "hit_rate", "utility", "hit_at_quality")
TUNING_SEED_BASE = 1_000_000
"""Tuning seeds are ``TUNING_SEED_BASE, TUNING_SEED_BASE + 1, ...`` whatever the evaluation
seeds (so a sweep over seeds tunes once per setting); evaluation seeds stay below."""


@dataclass(frozen=True)
class TuningSpec:
    """A scenario's ``tuning:`` section."""
    seeds: int = num(5, ge=1)                # tuning seeds per candidate
    duration_s: float | None = num(None, gt=0)  # seconds per tuning run (None: min(60, run))
    max_task_miss_rate: float = num(0.001, ge=0, le=1)  # task sets: the other tasks' misses


def tuning_seeds(n: int) -> tuple[int, ...]:
    return tuple(TUNING_SEED_BASE + i for i in range(n))


def check_disjoint(evaluation: Sequence[int], tuning: Sequence[int]) -> None:
    """Evaluation and tuning seeds never meet (a ``TestbedError`` naming the first shared)."""
    shared = sorted(set(evaluation) & set(tuning))
    if shared:
        raise TestbedError(f"--seed/--seeds: evaluation seeds must stay below "
                           f"{TUNING_SEED_BASE} (seeds from {TUNING_SEED_BASE} on are tuning "
                           f"seeds); got {shared[0]}")


# --- candidates (validation time) -------------------------------------------------

def candidates(raw: object, kind: str, manifest, file, where: str) -> tuple[Policy, ...]:
    """A system's ``policy:`` value -> its candidate settings (one when nothing is tuned).
    ``kind``: ``incremental`` or ``non_incremental``. Every candidate is validated like a
    policy written in the file; errors name ``<where>.tune.<param>``."""
    if raw == "auto" or isinstance(raw, dict) and raw.get("name") == "auto":
        if isinstance(raw, dict) and set(raw) - {"name"}:
            extra = sorted(set(raw) - {"name"})[0]
            raise ConfigError(file, f"{where}.{extra}", "no other key with policy auto", extra)
        return _auto(kind, manifest, file, where)
    raw = {"name": raw} if isinstance(raw, str) else raw
    if not isinstance(raw, dict) or "tune" not in raw:
        return (parse_kind(POLICIES, raw, str(file), where, key="name"),)
    fixed = {k: v for k, v in raw.items() if k != "tune"}
    grid = raw["tune"]
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(file, f"{where}.tune", "a mapping of parameter -> list of values",
                          grid)
    cls = POLICIES.get(fixed.get("name"), str(file), f"{where}.name")
    firsts = {p: v[0] for p, v in grid.items() if isinstance(v, list) and v}
    for param, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(file, f"{where}.tune.{param}", "a non-empty list of values",
                              values)
        if param in fixed:
            raise ConfigError(file, f"{where}.tune.{param}", "a parameter not also fixed "
                              "beside tune", param)
        for value in values:
            parse_kind(POLICIES, {**fixed, **firsts, param: value}, str(file), f"{where}.tune",
                       key="name")
    return _expand(cls, fixed, grid, file, where)


def _auto(kind: str, manifest, file, where: str) -> tuple[Policy, ...]:
    out: list[Policy] = []
    for name in POLICIES:
        cls = POLICIES.get(name)
        if cls.needs_foresight or kind not in cls.bundles:
            continue
        out += _expand(cls, {"name": name}, cls.grid(manifest), file, where)
    return tuple(out)


def _expand(cls, fixed: dict, grid: Mapping[str, Sequence], file, where: str
            ) -> tuple[Policy, ...]:
    seen, out = set(), []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        params = cls.canonical({**{k: v for k, v in fixed.items() if k != "name"},
                                **dict(zip(keys, values))})
        key = tuple(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            out.append(parse_kind(POLICIES, {"name": fixed["name"], **params}, str(file),
                                  where, key="name"))
    return tuple(out)


def policy_name(policy: Policy) -> str:
    return next(n for n in POLICIES if POLICIES.get(n) is type(policy))


def describe(policy: Policy) -> dict:
    """``{"policy": name, "params": {...}}`` of a setting."""
    return {"policy": policy_name(policy), "params": dataclasses.asdict(policy)}


# --- choosing (run time) ----------------------------------------------------------

def tune(scenario, seeds: Sequence[int], *, quality_bar: float | None = None,
         progress: Callable[[], None] | None = None):
    """Choose each tuned system's setting on ``seeds``; returns (tuned scenario,
    ``{system: tuning record}``). Systems with one candidate are left as they are.

    Two rounds, the same for every system (successive halving): every candidate runs on
    the first tuning seed; the best ``SURVIVORS`` share (at least ``MIN_SURVIVORS``) then
    runs on the other tuning seeds too, and the best mean over all of them is chosen."""
    spec = scenario.tuning
    duration = spec.duration_s or min(60.0, scenario.duration_s)
    chosen, records = {}, {}
    for system in scenario.systems:
        if len(system.candidates) < 2:
            continue
        limit = spec.max_task_miss_rate
        pool = list(range(len(system.candidates)))
        first = _scores(scenario, system, pool, seeds[:1], duration, quality_bar)
        keep = max(MIN_SURVIVORS, math.ceil(SURVIVORS * len(pool)))
        pool = sorted(sorted(pool, key=lambda i: _rank(first[i], limit, i))[:keep])
        rest = _scores(scenario, system, pool, seeds[1:], duration, quality_bar) \
            if seeds[1:] else {}
        ranked = [(first[i].merge(rest[i]) if i in rest else first[i], i) for i in pool]
        best = min(ranked, key=lambda r: _rank(r[0], limit, r[1]))
        chosen[system.name] = system.candidates[best[1]]
        over = sum(1 for score in first.values() if score.miss_rate > limit)
        records[system.name] = _record(scenario, system, seeds, duration, ranked, best, over)
        if progress:
            progress()
    systems = tuple(dataclasses.replace(s, policy=chosen.get(s.name, s.policy))
                    for s in scenario.systems)
    return dataclasses.replace(scenario, systems=systems), records


SURVIVORS = 0.1
MIN_SURVIVORS = 16


@dataclass(frozen=True)
class Score:
    """What a candidate scored over some tuning seeds: the objective summed over them and,
    on a task-set platform, each other task's (deadline misses, jobs) summed over them."""
    total: float
    seeds: int
    tasks: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    @property
    def mean(self) -> float:
        return self.total / max(1, self.seeds)

    @property
    def miss_rate(self) -> float:
        """The worst other task's share of missed deadlines (0 without tasks)."""
        return max((m / n for m, n in self.tasks.values() if n), default=0.0)

    def merge(self, other: "Score") -> "Score":
        names = set(self.tasks) | set(other.tasks)
        tasks = {t: tuple(a + b for a, b in zip(self.tasks.get(t, (0, 0)),
                                                 other.tasks.get(t, (0, 0)))) for t in names}
        return Score(self.total + other.total, self.seeds + other.seeds, tasks)


def _rank(score: Score, limit: float, index: int) -> tuple:
    """Sort key, best first: candidates within the task miss limit by objective, then the
    others by miss rate; ties to the earlier candidate."""
    if score.miss_rate <= limit:
        return (0, 0.0, -score.mean, index)
    return (1, score.miss_rate, -score.mean, index)


def _scores(scenario, system, pool: Sequence[int], seeds: Sequence[int], duration: float,
            quality_bar: float | None) -> dict[int, Score]:
    """The :class:`Score` of each candidate in ``pool`` over ``seeds``, simulated side by
    side as systems of one scenario; a seed where the objective is undefined (no job)
    counts 0."""
    from .sim.engine import simulate

    trial = dataclasses.replace(scenario, duration_s=duration, systems=tuple(
        dataclasses.replace(system, name=str(i), policy=system.candidates[i], candidates=())
        for i in pool))
    scores = {i: Score(0.0, 0) for i in pool}
    for seed in seeds:
        objective = _Objective(scenario.objective, quality_bar)
        result = simulate(trial, seed=seed, keep=False, on_record=objective)
        values = objective.done()
        for i in pool:
            tasks = {t: (v["deadline_misses"], v["jobs"])
                     for t, v in result.tasks.get(str(i), {}).items()}
            scores[i] = scores[i].merge(Score(values.get(str(i)) or 0.0, 1, tasks))
    return scores


class _Objective:
    """A record sink computing one metric per system (by :func:`group_metrics`, the
    report's own definition). The engine runs systems one after another, so only one
    system's records are held at a time."""

    def __init__(self, metric: str, quality_bar: float | None):
        self.metric, self.quality_bar = metric, quality_bar
        self.system, self.rows, self.values = None, [], {}

    def __call__(self, record) -> None:
        if record.system != self.system:
            self._flush()
            self.system = record.system
        self.rows.append(record)

    def done(self) -> dict[str, float | None]:
        self._flush()
        return self.values

    def _flush(self) -> None:
        if self.rows:
            self.values[self.system] = group_metrics(
                self.rows, quality_bar=self.quality_bar)[self.metric]
            self.rows = []


def _record(scenario, system, seeds, duration: float, ranked, best, over: int) -> dict:
    """What tuning tried and chose; ``over``: candidates over the task miss limit on the
    first tuning seed (where every candidate runs)."""
    limit = scenario.tuning.max_task_miss_rate
    top = sorted(ranked, key=lambda r: _rank(r[0], limit, r[1]))[:5]
    record = {"objective": scenario.objective, "seeds": list(seeds), "duration_s": duration,
              "candidates": len(system.candidates), "score": best[0].mean,
              "top": [{**describe(system.candidates[i]), "score": s.mean} for s, i in top]}
    if any(s.tasks for s, _ in ranked):  # a task set: the constraint and what it did
        record["max_task_miss_rate"] = limit
        record["task_miss_rate"] = best[0].miss_rate
        for row, (s, _) in zip(record["top"], top):
            row["task_miss_rate"] = s.miss_rate
        record["over_limit"] = over
    return record
