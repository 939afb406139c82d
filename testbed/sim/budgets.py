"""Budget generators: a scenario's ``budget:`` section -> a :class:`Trace` for one run.

Each generator is a frozen dataclass of validated parameters registered in ``BUDGETS``;
``generate(rng, horizon_s)`` draws a trace covering ``[0, horizon_s]`` from its own random
stream (:mod:`testbed.sim.seeds`). Generated traces end with a row at ``horizon_s`` and
hold, so a trace written by ``testbed trace`` replays the run exactly. ``kind: trace``
reads a CSV instead (resolved and read once, when the scenario is loaded); after its last
row it holds its last value unless the scenario says ``after: repeat``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..registry import Registry
from .params import Fail, Range, num
from .trace import Trace, read_trace_csv

BUDGETS: Registry[type] = Registry("budget generator")


def _trace(times, values, horizon_s: float) -> Trace:
    """Rows before ``horizon_s`` plus a closing row at ``horizon_s``; holds after it."""
    t, v = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
    keep = t < horizon_s
    t, v = t[keep], v[keep]
    return Trace(np.append(t, horizon_s), np.append(v, v[-1]), "budget", "hold")


@BUDGETS.register("constant")
@dataclass(frozen=True)
class Constant:
    """The same share all the time."""
    budget: float = num(1.0, ge=0)

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        return _trace([0.0], [self.budget], horizon_s)


@BUDGETS.register("step")
@dataclass(frozen=True)
class Step:
    """Fixed levels: ``budgets[i]`` from ``times_s[i]`` on (``times_s[0]`` is 0)."""
    times_s: tuple[float, ...] = num(ge=0)
    budgets: tuple[float, ...] = num(ge=0)

    def check(self, fail: Fail) -> None:
        if len(self.times_s) != len(self.budgets):
            fail("budgets", f"{len(self.times_s)} values, one per entry of times_s",
                 len(self.budgets))
        if self.times_s[0] != 0 or any(b < a for a, b in zip(self.times_s, self.times_s[1:])):
            fail("times_s", "times starting at 0 that never decrease", list(self.times_s))

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        return _trace(self.times_s, self.budgets, horizon_s)


@dataclass(frozen=True)
class Mode:
    budget: float = num(ge=0)
    dwell_s: Range = num(gt=0)


@BUDGETS.register("markov")
@dataclass(frozen=True)
class Markov:
    """Named modes (normal, power_save, thermal_throttle, ...) each holding its budget for
    a dwell time drawn uniformly from ``dwell_s``; then a jump to another mode, weighted
    by ``transitions[mode]`` (default: uniform over the other modes)."""
    modes: dict[str, Mode]
    start: str | None = None
    transitions: dict[str, dict[str, float]] | None = num(None, ge=0)

    def check(self, fail: Fail) -> None:
        if self.start is not None and self.start not in self.modes:
            fail("start", f"one of the modes ({', '.join(self.modes)})", self.start)
        for src, row in (self.transitions or {}).items():
            if src not in self.modes:
                fail(f"transitions.{src}", f"one of the modes ({', '.join(self.modes)})", src)
            for dst in row:
                if dst not in self.modes:
                    fail(f"transitions.{src}.{dst}", "one of the modes", dst)
            if sum(row.values()) <= 0:
                fail(f"transitions.{src}", "at least one weight > 0", row)

    def _next(self, mode: str, rng: np.random.Generator) -> str:
        names = list(self.modes)
        row = (self.transitions or {}).get(mode)
        if row is None:
            row = {m: 1.0 for m in names if m != mode} or {mode: 1.0}
        weights = np.array(list(row.values()))
        return list(row)[rng.choice(len(row), p=weights / weights.sum())]

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        mode, t = self.start or next(iter(self.modes)), 0.0
        times, values = [], []
        while t < horizon_s:
            times.append(t)
            values.append(self.modes[mode].budget)
            t += rng.uniform(*self.modes[mode].dwell_s)
            mode = self._next(mode, rng)
        return _trace(times, values, horizon_s)


@dataclass(frozen=True)
class Bursts:
    """Co-running tasks arriving at ``rate_hz`` (Poisson or periodic with a random phase),
    each taking a share drawn from ``share`` for a time drawn from ``duration_ms``."""
    rate_hz: float = num(gt=0)
    share: Range = num(ge=0, le=1)
    duration_ms: Range = num(gt=0)
    arrival: Literal["poisson", "periodic"] = "poisson"

    def starts(self, rng: np.random.Generator, horizon_s: float) -> np.ndarray:
        if self.arrival == "periodic":
            period = 1.0 / self.rate_hz
            return np.arange(rng.uniform(0, period), horizon_s, period)
        return np.sort(rng.uniform(0, horizon_s, rng.poisson(self.rate_hz * horizon_s)))


@BUDGETS.register("contention")
@dataclass(frozen=True)
class Contention:
    """``base`` minus the shares of the co-running bursts active at the time (>= 0)."""
    bursts: tuple[Bursts, ...]
    base: float = num(1.0, ge=0)

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        times, deltas = [np.zeros(1)], [np.zeros(1)]
        for source in self.bursts:
            start = source.starts(rng, horizon_s)
            length = rng.uniform(*source.duration_ms, len(start)) / 1e3
            share = rng.uniform(*source.share, len(start))
            times += [start, start + length]
            deltas += [share, -share]
        t, d = np.concatenate(times), np.concatenate(deltas)
        order = np.argsort(t, kind="stable")
        t, active = t[order], np.round(np.cumsum(d[order]), 12)
        last = np.append(t[1:] != t[:-1], True)  # several changes at one time: keep the last
        return _trace(t[last], np.clip(self.base - active[last], 0.0, None), horizon_s)


@BUDGETS.register("random_walk")
@dataclass(frozen=True)
class RandomWalk:
    """A Gaussian walk with steps every ``step_ms``, reflected into ``[low, high]``."""
    start: float = num(1.0, ge=0)
    sigma: float = num(0.05, ge=0)
    step_ms: float = num(100.0, gt=0)
    low: float = num(0.0, ge=0)
    high: float = num(1.0, gt=0)

    def check(self, fail: Fail) -> None:
        if not self.low <= self.start <= self.high or self.low >= self.high:
            fail("start", f"low <= start <= high with low < high ({self.low}, {self.high})",
                 self.start)

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        n = math.ceil(horizon_s / (self.step_ms / 1e3)) + 1
        walk = self.start - self.low + np.cumsum(rng.normal(0, self.sigma, n) * (np.arange(n) > 0))
        span = self.high - self.low
        folded = np.mod(walk, 2 * span)
        values = self.low + np.where(folded > span, 2 * span - folded, folded)
        return _trace(np.arange(n) * (self.step_ms / 1e3), values, horizon_s)


@BUDGETS.register("thermal")
@dataclass(frozen=True)
class Thermal:
    """A first-order thermal model under a step governor: the die heats toward
    ``ambient_c + heat_c * budget`` with time constant ``tau_s``; every ``step_s`` the
    governor steps down one of ``levels`` when above ``limit_c`` and back up when below
    ``limit_c - hysteresis_c`` (``noise_c``: sensor noise). The budget sags as it heats."""
    levels: tuple[float, ...] = num((1.0, 0.85, 0.7, 0.55, 0.4), ge=0)
    ambient_c: float = 25.0
    heat_c: float = num(80.0, ge=0)
    limit_c: float = 85.0
    hysteresis_c: float = num(5.0, ge=0)
    tau_s: float = num(60.0, gt=0)
    step_s: float = num(1.0, gt=0)
    noise_c: float = num(0.0, ge=0)

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        temp, level, decay = self.ambient_c, 0, 1 - math.exp(-self.step_s / self.tau_s)
        times, values = [0.0], [self.levels[0]]
        for k in range(1, math.ceil(horizon_s / self.step_s) + 1):
            temp += (self.ambient_c + self.heat_c * self.levels[level] - temp) * decay
            sensed = temp + (rng.normal(0, self.noise_c) if self.noise_c else 0.0)
            if sensed > self.limit_c and level < len(self.levels) - 1:
                level += 1
            elif sensed < self.limit_c - self.hysteresis_c and level > 0:
                level -= 1
            if self.levels[level] != values[-1]:
                times.append(k * self.step_s)
                values.append(self.levels[level])
        return _trace(times, values, horizon_s)


@BUDGETS.register("trace")
@dataclass(frozen=True)
class TraceFile:
    """A budget CSV (path relative to the scenario file); ``after`` its last row the
    trace holds its last value (the default) or, with ``after: repeat``, repeats."""
    file: str
    after: Literal["repeat", "hold"] = "hold"

    def load(self, base: Path) -> "FixedTrace":
        return FixedTrace(read_trace_csv(base / self.file, self.after), str(base / self.file))


@dataclass(frozen=True)
class FixedTrace:
    """A trace read from a file: the same for every seed."""
    trace: Trace
    file: str

    def generate(self, rng: np.random.Generator, horizon_s: float) -> Trace:
        return self.trace
