"""Fault injection (issue 9): a scenario's ``faults:`` section -> seeded fault windows, and
the pure transforms that apply them to one run.

Validated by :mod:`testbed.scenario` like every other section; realised per seed by
:func:`plan` from its own random streams (``component_rng(seed, "faults", kind)``), so a
faults section never changes what the budget, the workload or the sample order draw,
and every system of a run meets the same faults. Each fault is applied at the level
where the real fault lives:

* ``stalls``: the platform gives nothing (budget 0) during a window — a transform of the
  budget :class:`Trace` (:func:`stall_trace`);
* ``dropouts``: frames arriving in a window never arrive (the sensor lost them); they are
  recorded as dropped — ``lost`` on the :class:`Frame`;
* ``bursts``: during a window a class's frames arrive every ``period_ms`` instead of on
  their own clock (a sensor flushing its buffer) — a transform of the frame stream;
* ``stage_failures``: a stage raises with ``probability``; the job keeps the last good
  stage's result and stops (later stages need the failed one's state); the failed
  stage's work is wasted — a bitmask ``fails`` drawn per frame, the same for every system;
* ``budget_signal``: the policy sees a mis-estimated budget — ``(1 + bias)`` times a
  noise factor (piecewise constant, redrawn every ``step_ms``) times the truth, and the
  instantaneous reading ``delay_ms`` late — while the platform serves the true budget.

Windows come at fixed times (``at_s``) and/or as a Poisson process (``rate_hz``), each
lasting a duration drawn from ``duration_ms``. A frame's ``fault`` label names the
windows that touched it: ``stall`` when a stall overlaps [arrival, deadline),
``dropout`` / ``burst`` when it arrived in such a window of its class (joined by ``+``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from .params import Fail, Range, num
from .seeds import component_rng
from .trace import Trace, covering

MAX_STAGES = 62  # stage-failure bitmask width (bit k-1: stage k raises)
Window = tuple[float, float]


@dataclass(frozen=True, kw_only=True)
class Windows:
    """When a fault is active: windows starting at ``at_s`` and/or at Poisson times of
    ``rate_hz``, each lasting a duration drawn uniformly from ``duration_ms``."""
    duration_ms: Range = num(gt=0)
    at_s: tuple[float, ...] | None = num(None, ge=0)
    rate_hz: float = num(0.0, ge=0)

    def check(self, fail: Fail) -> None:
        if not self.at_s and not self.rate_hz:
            fail("rate_hz", "a rate > 0 or a list at_s of start times (the fault never "
                 "happens otherwise)", self.rate_hz)

    def draw(self, rng: np.random.Generator, horizon_s: float) -> list[Window]:
        starts = list(self.at_s or ())
        if self.rate_hz:
            starts += np.sort(rng.uniform(0, horizon_s, rng.poisson(self.rate_hz * horizon_s))
                              ).tolist()
        length = rng.uniform(*self.duration_ms, len(starts)) / 1e3
        return merge([(s, s + d) for s, d in zip(starts, length.tolist()) if s < horizon_s])


@dataclass(frozen=True, kw_only=True)
class Stall(Windows):
    """The platform is stalled (budget 0) during each window."""


@dataclass(frozen=True, kw_only=True)
class Dropout(Windows):
    """Frames of ``job_class`` (default: every class) arriving in a window are lost."""
    job_class: str | None = None


@dataclass(frozen=True, kw_only=True)
class Burst(Windows):
    """Frames of ``job_class`` (default: the first class) arrive every ``period_ms``
    during a window, instead of on their own clock."""
    period_ms: float = num(gt=0)
    job_class: str | None = None


@dataclass(frozen=True)
class StageFailure:
    """Each attempt of a listed stage (default: every stage) raises with ``probability``."""
    probability: float = num(ge=0, le=1)
    stages: tuple[int, ...] | None = num(None, ge=1)

    def check(self, fail: Fail) -> None:
        if self.stages and max(self.stages) > MAX_STAGES:
            fail("stages", f"stage numbers <= {MAX_STAGES}", list(self.stages))


@dataclass(frozen=True)
class BudgetSignal:
    """What the policy is told about the budget: ``(1 + bias)`` × a noise factor
    ``max(0, 1 + noise·N(0,1))`` redrawn every ``step_ms`` × the truth; the instantaneous
    reading (``budget_now``) is ``delay_ms`` old."""
    noise: float = num(0.0, ge=0)
    bias: float = num(0.0, gt=-1)
    delay_ms: float = num(0.0, ge=0)
    step_ms: float = num(100.0, gt=0)


@dataclass(frozen=True)
class Faults:
    """The ``faults:`` section of a scenario."""
    stalls: tuple[Stall, ...] | None = None
    dropouts: tuple[Dropout, ...] | None = None
    bursts: tuple[Burst, ...] | None = None
    stage_failures: StageFailure | None = None
    budget_signal: BudgetSignal | None = None

    def check_classes(self, names: list[str], fail: Fail) -> None:
        """Every ``job_class`` a fault names is a workload class."""
        for key in ("dropouts", "bursts"):
            for i, f in enumerate(getattr(self, key) or ()):
                if f.job_class is not None and f.job_class not in names:
                    fail(f"{key}.{i}.job_class", f"a workload class ({', '.join(names)})",
                         f.job_class)


@dataclass(frozen=True)
class FaultPlan:
    """The faults of one run (one seed), drawn over ``[0, horizon_s)``."""
    stalls: tuple[Window, ...] = ()
    dropouts: tuple[tuple[Window, int], ...] = ()       # (window, class or -1 for every)
    bursts: tuple[tuple[Window, int, float], ...] = ()  # (window, class, period_s)
    stage_probability: float = 0.0
    stage_mask: int = 0                                  # stages that may fail
    signal: "Signal | None" = None
    seed: int = 0

    @property
    def touches_frames(self) -> bool:
        return bool(self.stalls or self.dropouts or self.bursts or self.stage_probability)


def merge(windows: list[Window]) -> list[Window]:
    """Sorted, overlapping windows merged."""
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def plan(faults: Faults | None, seed: int, horizon_s: float, class_names: list[str]) -> FaultPlan:
    """Draw the faults of run ``seed``; ``None`` gives the empty plan."""
    if faults is None:
        return FaultPlan(seed=seed)
    rng = lambda kind, i=0: component_rng(seed, "faults", kind, i)  # noqa: E731
    index = lambda name, default: default if name is None else class_names.index(name)  # noqa: E731
    stalls = merge([w for i, s in enumerate(faults.stalls or ())
                    for w in s.draw(rng("stall", i), horizon_s)])
    drops = tuple((w, index(d.job_class, -1)) for i, d in enumerate(faults.dropouts or ())
                  for w in d.draw(rng("dropout", i), horizon_s))
    bursts = tuple((w, index(b.job_class, 0), b.period_ms / 1e3)
                   for i, b in enumerate(faults.bursts or ())
                   for w in b.draw(rng("burst", i), horizon_s))
    sf = faults.stage_failures
    mask = 0
    if sf is not None:
        mask = sum(1 << (k - 1) for k in set(sf.stages or range(1, MAX_STAGES + 1)))
    signal = (None if faults.budget_signal is None
              else Signal.draw(faults.budget_signal, rng("signal"), horizon_s))
    return FaultPlan(tuple(stalls), drops, bursts, sf.probability if sf else 0.0, mask,
                     signal, seed)


def unrolled(trace: Trace, horizon_s: float) -> tuple[list[float], list[float]]:
    """Rows of ``trace`` covering ``[0, horizon_s)`` with repeats written out (values taken
    by row, so rounding in a cycle's start time cannot pick the previous row's value)."""
    rows = covering(trace, horizon_s)
    times, values = rows.time_s.tolist(), rows.value.tolist()
    keep = [i for i, t in enumerate(times) if t < horizon_s] or [0]
    return [times[i] for i in keep], [values[i] for i in keep]


def stall_trace(trace: Trace, stalls: tuple[Window, ...], horizon_s: float) -> Trace:
    """``trace`` with value 0 during every stall window (unchanged without stalls). The
    result covers ``[0, horizon_s]`` and holds its last row after it."""
    if not stalls:
        return trace
    times, values = unrolled(trace, horizon_s)
    edges = sorted(set(times) | {t for w in stalls for t in w if t < horizon_s})
    out_v = [0.0 if in_windows(t, stalls) else values[bisect_right(times, t) - 1]
             for t in edges]
    last = 0.0 if in_windows(horizon_s, stalls) else trace._integral.rate(horizon_s)
    return Trace(np.array(edges + [horizon_s]), np.array(out_v + [last]), trace.column, "hold")


def in_windows(t: float, windows) -> bool:
    """``t`` lies in one of the sorted, disjoint half-open windows ``[a, b)``."""
    i = bisect_right(windows, (t, math.inf)) - 1
    return i >= 0 and windows[i][0] <= t < windows[i][1]


def overlaps(a: float, b: float, windows) -> bool:
    """``[a, b)`` meets one of the sorted, disjoint windows."""
    i = bisect_right(windows, (b, -math.inf)) - 1  # last window starting before b
    return i >= 0 and windows[i][1] > a


@dataclass(frozen=True)
class Signal:
    """The policy's view of the budget: ``factor(t)`` × truth, readings ``delay_s`` late."""
    times: tuple[float, ...]
    factors: tuple[float, ...]
    delay_s: float

    @classmethod
    def draw(cls, spec: BudgetSignal, rng: np.random.Generator, horizon_s: float) -> "Signal":
        step = spec.step_ms / 1e3
        n = math.ceil(horizon_s / step) + 1
        noise = np.maximum(0.0, 1.0 + spec.noise * rng.standard_normal(n)) if spec.noise \
            else np.ones(n)
        return cls(tuple((np.arange(n) * step).tolist()),
                   tuple(((1.0 + spec.bias) * noise).tolist()), spec.delay_ms / 1e3)

    def factor(self, t: float) -> float:
        return self.factors[max(0, bisect_right(self.times, t) - 1)]

    def reading_time(self, t: float) -> float:
        return max(0.0, t - self.delay_s)

    def next_change(self, t: float) -> float:
        """When ``factor`` next changes after t (``inf``: never)."""
        i = bisect_right(self.times, t)
        return self.times[i] if i < len(self.times) else math.inf
