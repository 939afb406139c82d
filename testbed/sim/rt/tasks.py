"""Task sets: a scenario's ``budget: {kind: tasks, ...}`` -> validated task specs.

Read by :mod:`testbed.scenario` (through :func:`parse_task_set`) and simulated by
:mod:`testbed.sim.rt.engine`. A task is the other work on the platform beside the DNN
workload classes: ``{name, kind: periodic | sporadic, period_ms | rate_hz, execution_ms,
priority, deadline_ms, offset_ms, jitter_ms}`` (sporadic: Poisson arrivals at
``rate_hz`` never closer than ``min_gap_ms``). ``execution_ms`` is a number or a
distribution registered in ``EXECUTIONS`` (``{dist: uniform, low, high}``, ``{dist:
lognormal, median, sigma, max_ms}``, ``{dist: samples, file}``: a CSV of measured times,
relative to the scenario file). :func:`task_arrivals` draws one task's jobs for a run from
its own random streams, so every system of a scenario meets the same task jobs.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from ...errors import ConfigError
from ...registry import Registry
from ..budgets import _trace
from ..params import Fail, internal, join, num, parse, parse_kind
from ..seeds import component_rng
from ..trace import Trace

EXECUTIONS: Registry[type] = Registry("execution-time distribution")
BLOCK = 4096  # jobs drawn per block (fixed: a stream never depends on how far it is read)
TASK_KEYS = ("name", "kind", "period_ms", "rate_hz", "min_gap_ms", "execution_ms", "priority",
             "deadline_ms", "offset_ms", "jitter_ms")


@dataclass(frozen=True)
class Constant:
    """Every job takes ``value_ms``."""
    value_ms: float = num(gt=0)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value_ms)

    @property
    def wcet_ms(self) -> float:
        return self.value_ms


@EXECUTIONS.register("uniform")
@dataclass(frozen=True)
class Uniform:
    """Uniform between ``low`` and ``high`` ms."""
    low: float = num(gt=0)
    high: float = num(gt=0)

    def check(self, fail: Fail) -> None:
        if self.high < self.low:
            fail("high", f"a number >= low ({self.low})", self.high)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    @property
    def wcet_ms(self) -> float:
        return self.high


@EXECUTIONS.register("lognormal")
@dataclass(frozen=True)
class LogNormal:
    """``median × exp(sigma × N(0, 1))`` ms, cut at ``max_ms`` when given (without it the
    worst case is unbounded and so is the response-time bound)."""
    median: float = num(gt=0)
    sigma: float = num(ge=0)
    max_ms: float | None = num(None, gt=0)

    def check(self, fail: Fail) -> None:
        if self.max_ms is not None and self.max_ms < self.median:
            fail("max_ms", f"a number >= median ({self.median})", self.max_ms)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values = self.median * np.exp(self.sigma * rng.standard_normal(n))
        return values if self.max_ms is None else np.minimum(values, self.max_ms)

    @property
    def wcet_ms(self) -> float | None:
        return self.max_ms if self.sigma else self.median


@EXECUTIONS.register("samples")
@dataclass(frozen=True)
class Samples:
    """Drawn with replacement from measured times: a CSV with one number (ms) per row in
    its first column (a header row is allowed), relative to the scenario file."""
    file: str
    values: tuple[float, ...] = internal(())

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.asarray(self.values)[rng.integers(0, len(self.values), n)]

    @property
    def wcet_ms(self) -> float:
        return max(self.values)


def read_samples(path: Path) -> tuple[float, ...]:
    """The execution times (ms) of a samples CSV; errors name the file and row."""
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "a readable CSV of execution times in ms",
                          getattr(exc, "strerror", None) or str(exc)) from None
    values = []
    for i, row in enumerate(rows):
        if not row or not row[0].strip():
            continue
        try:
            value = float(row[0])
        except ValueError:
            if i == 0 and not values:
                continue  # a header
            raise ConfigError(path, f"row {i + 1}", "an execution time in ms", row[0]) from None
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(path, f"row {i + 1}", "an execution time in ms > 0", row[0])
        values.append(value)
    if not values:
        raise ConfigError(path, None, "at least one execution time (ms) in the first column")
    return tuple(values)


@dataclass(frozen=True)
class TaskSpec:
    """One non-DNN task of the platform (see the module docstring)."""
    name: str
    kind: Literal["periodic", "sporadic"]
    priority: int = 0
    period_ms: float | None = num(None, gt=0)
    rate_hz: float | None = num(None, gt=0)
    min_gap_ms: float = num(0.0, ge=0)
    deadline_ms: float | None = num(None, gt=0)
    offset_ms: float = num(0.0, ge=0)
    jitter_ms: float = num(0.0, ge=0)
    execution: object = internal()

    def check(self, fail: Fail) -> None:
        if self.kind == "periodic":
            if (self.period_ms is None) == (self.rate_hz is None):
                fail("period_ms", "either period_ms or rate_hz for a periodic task",
                     self.period_ms)
            if self.min_gap_ms:
                fail("min_gap_ms", "no min_gap_ms for a periodic task", self.min_gap_ms)
            if self.jitter_ms >= self.period_s * 1e3:
                fail("jitter_ms", f"less than the period ({self.period_s * 1e3:g} ms)",
                     self.jitter_ms)
            return
        if self.rate_hz is None or self.period_ms is not None:
            fail("rate_hz", "a mean rate (rate_hz, and optionally min_gap_ms) for a sporadic "
                 "task, not period_ms", self.rate_hz)
        if self.jitter_ms or self.offset_ms:
            fail("jitter_ms" if self.jitter_ms else "offset_ms", "none for a sporadic task",
                 self.jitter_ms or self.offset_ms)
        if self.deadline_ms is None and not self.min_gap_ms:
            fail("deadline_ms", "a deadline (a sporadic task without min_gap_ms has no "
                 "period to default to)")

    @property
    def period_s(self) -> float:
        """Periodic: the period; sporadic: the minimum inter-arrival time (0: none)."""
        if self.kind == "sporadic":
            return self.min_gap_ms / 1e3
        return self.period_ms / 1e3 if self.period_ms is not None else 1.0 / self.rate_hz

    @property
    def deadline_s(self) -> float:
        return self.period_s if self.deadline_ms is None else self.deadline_ms / 1e3


@dataclass(frozen=True)
class TaskSet:
    """``budget: {kind: tasks, ...}``: the platform runs ``tasks`` beside the DNN
    workload classes under ``scheduler``, ``context_switch_us`` per switch, DNN steps
    preempted at once (``instant``) or only at their boundaries (``stage``). Parsed by
    :func:`parse_task_set`, not registered in ``BUDGETS``: its tasks are not plain
    parameters."""
    tasks: tuple[TaskSpec, ...] = ()
    scheduler: str = "fixed_priority"
    context_switch_us: float = num(0.0, ge=0)
    preemption: Literal["instant", "stage"] = "instant"

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        """The full platform: under a task set the budget is what the scheduler leaves
        each task, not a trace (the report's budget plot shows 1.0)."""
        return _trace([0.0], [1.0], horizon_s)


def parse_task_set(raw: dict, file: Path, where: str = "budget") -> TaskSet:
    """``budget:`` of kind ``tasks`` -> a :class:`TaskSet` (names unique, files read)."""
    from .schedulers import SCHEDULERS
    known = ("kind", "scheduler", "context_switch_us", "preemption", "tasks")
    for key in raw:
        if key not in known:
            raise ConfigError(file, join(where, str(key)), f"a known key ({', '.join(known)})",
                              key)
    head = parse(TaskSet, {k: v for k, v in raw.items() if k not in ("kind", "tasks")},
                 str(file), where)
    SCHEDULERS.get(head.scheduler, str(file), join(where, "scheduler"))
    items = raw.get("tasks", [])
    if not isinstance(items, list):
        raise ConfigError(file, join(where, "tasks"), "a list of tasks", items)
    tasks = tuple(_task(item, file, join(where, f"tasks.{i}")) for i, item in enumerate(items))
    names = [t.name for t in tasks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(file, join(where, f"tasks.{i}.name"), "a name not used before",
                              name)
    return TaskSet(tasks, head.scheduler, head.context_switch_us, head.preemption)


def _task(raw: object, file: Path, where: str) -> TaskSpec:
    if not isinstance(raw, dict):
        raise ConfigError(file, where, "a mapping (a task)", raw)
    for key in raw:
        if key not in TASK_KEYS:
            raise ConfigError(file, join(where, str(key)), f"a known key ({', '.join(TASK_KEYS)})",
                              key)
    if "execution_ms" not in raw:
        raise ConfigError(file, join(where, "execution_ms"), "a value (this key is required)")
    spec = parse(TaskSpec, {k: v for k, v in raw.items() if k != "execution_ms"}, str(file),
                 where)
    return TaskSpec(**{**spec.__dict__, "execution": _execution(raw["execution_ms"], file,
                                                                 join(where, "execution_ms"))})


def _execution(raw: object, file: Path, where: str):
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if raw > 0 and math.isfinite(raw):
            return Constant(float(raw))
        _bad_execution(raw, file, where)
    if not isinstance(raw, dict):
        _bad_execution(raw, file, where)
    dist = parse_kind(EXECUTIONS, raw, str(file), where, key="dist")
    if isinstance(dist, Samples):
        path = file.parent / dist.file
        if not path.is_file():
            raise ConfigError(file, join(where, "file"), "an existing CSV of execution times "
                              "(relative to the scenario file)", dist.file)
        dist = Samples(dist.file, read_samples(path))
    return dist


def _bad_execution(raw: object, file: Path, where: str):
    raise ConfigError(file, where, "a time in ms > 0 or a distribution ({dist: uniform, low, "
                      "high}, {dist: lognormal, median, sigma}, {dist: samples, file})", raw)


# --- one run's jobs ----------------------------------------------------------------------

@dataclass
class Arrivals:
    """One task's jobs in a run: ``next()`` -> (release, nominal release, execution s)."""
    spec: TaskSpec
    index: int
    seed: int
    duration_s: float
    _it: Iterator = field(init=False, repr=False)

    def __post_init__(self):
        self._it = self._jobs()

    def __iter__(self):
        return self._it

    def __next__(self):
        return next(self._it)

    def _jobs(self) -> Iterator[tuple[float, float, float]]:
        spec = self.spec
        times = component_rng(self.seed, "tasks", self.index, "arrivals")
        costs = component_rng(self.seed, "tasks", self.index, "execution")
        for first in range(0, 1 << 62, BLOCK):
            nominal = self._nominal(times, first)
            late = times.uniform(0.0, spec.jitter_ms / 1e3, BLOCK) if spec.jitter_ms else \
                np.zeros(BLOCK)
            work = spec.execution.draw(costs, BLOCK) / 1e3
            keep = nominal < self.duration_s
            yield from zip((nominal + late)[keep].tolist(), nominal[keep].tolist(),
                           work[keep].tolist())
            if not keep[-1]:
                return

    def _nominal(self, rng: np.random.Generator, first: int) -> np.ndarray:
        spec = self.spec
        if spec.kind == "periodic":
            return spec.offset_ms / 1e3 + spec.period_s * np.arange(first, first + BLOCK)
        gaps = spec.min_gap_ms / 1e3 + rng.exponential(1.0 / spec.rate_hz, BLOCK)
        start = getattr(self, "_last", 0.0)
        t = start + np.cumsum(gaps)
        self._last = float(t[-1])
        return t


def check_task_set(scenario, file: Path) -> None:
    """What a task-set scenario cannot have: faults (they act on a fluid budget), a
    latency model's job_start table (not charged by the task-set scheduler) and the
    oracle bounds (they need a future budget that only exists as a trace); and what only
    it can have: systems with a model per workload class (``classes:``)."""
    if not isinstance(scenario.budget, TaskSet):
        for i, spec in enumerate(scenario.systems):
            if spec.classes:
                raise ConfigError(file, f"systems.{i}.classes", "no per-class models without "
                                  "budget kind tasks (a fluid platform runs one bundle per "
                                  "system)", sorted(scenario.workload[c.job_class].name
                                                    for c in spec.classes))
        return
    if scenario.faults is not None:
        raise ConfigError(file, "faults", "no faults section with budget kind tasks (faults "
                          "act on a fluid budget trace)", "faults")
    latency = scenario.platform.latency
    if scenario.cost_model == "latency" and latency is not None and latency.job_start:
        raise ConfigError(file, "platform.latency.job_start", "no job_start table with budget "
                          "kind tasks (the task-set scheduler does not charge job starts)",
                          [p.gap_ms for p in latency.job_start])
    for i, spec in enumerate(scenario.systems):
        if spec.policy.needs_foresight or any(p.needs_foresight for p in spec.candidates):
            where = "bounds" if spec.bound_of is not None else f"systems.{i}.policy"
            raise ConfigError(file, where, "no oracle bound with budget kind tasks (the "
                              "oracles need the future budget as a trace; a task set has "
                              "none)", type(spec.policy).__name__)
    names = [c.name for c in scenario.workload] + [t.name for t in scenario.budget.tasks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(file, f"budget.tasks.{i - len(scenario.workload)}.name",
                              "a name not used by a workload class", name)
