"""Budget traces (DESIGN.md §4): the piecewise-constant share of the platform over time.

Read from / written to CSV (``time_s,budget`` or ``time_s,gmacs``), produced by the
generators in :mod:`testbed.sim.budgets`, and consumed by the engine through the pure time
math below: ``finish_time`` (when does work W started at t finish?) and ``work_between``.
Both use the cumulative integral of the trace at its rows plus a bisect, so a call costs
O(log rows) whatever the budget does in between; nothing here knows about SimPy.

After its last row a trace *holds* its last value, unless the scenario says
``after: repeat``. When repeating, the last row's time is the cycle length (the last row
starts the next cycle, so its value is not used): a file meant to repeat ends with a row at
its cycle length. :func:`after_note` says in one line which of the two a run longer than
its trace gets. A ``budget`` column is a fraction of the platform's peak, in [0, 1]; a file
in percent is refused when read (absolute rates go in a ``gmacs`` column).
"""

from __future__ import annotations

import math
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError

COLUMNS = ("budget", "gmacs")
AFTER = ("repeat", "hold")


@dataclass(frozen=True, eq=False)
class Trace:
    """Rows ``(time_s[i], value[i])``: ``value[i]`` holds on ``[time_s[i], time_s[i+1])``.

    ``column`` says what ``value`` is: ``budget`` (fraction of the platform's peak) or
    ``gmacs`` (absolute giga-MAC/s); ``after`` says what follows the last row (``hold``
    unless asked to ``repeat``); ``source`` names the file it was read from, if any."""

    time_s: np.ndarray
    value: np.ndarray
    column: str = "budget"
    after: str = "hold"
    source: str | None = None
    _integral: "Integral" = field(init=False, repr=False)

    def __post_init__(self):
        t = np.array(self.time_s, dtype=np.float64)
        v = np.array(self.value, dtype=np.float64)
        if t.ndim != 1 or t.shape != v.shape or not len(t) or t[0] != 0 or np.any(np.diff(t) < 0):
            raise ValueError("a trace needs 1-D rows starting at time 0, times non-decreasing")
        if not (np.all(np.isfinite(v)) and np.all(v >= 0) and np.all(np.isfinite(t))):
            raise ValueError("trace values must be finite and >= 0")
        if self.column not in COLUMNS or self.after not in AFTER:
            raise ValueError(f"column in {COLUMNS}, after in {AFTER}")
        t.flags.writeable = v.flags.writeable = False
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "_integral", Integral(t.tolist(), v.tolist(), self.after))

    def __len__(self) -> int:
        return len(self.time_s)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Trace) and self.column == other.column
                and self.after == other.after and np.array_equal(self.time_s, other.time_s)
                and np.array_equal(self.value, other.value))

    def macs_per_value_s(self, peak_gmacs: float) -> float:
        """MACs served per second per unit of ``value``."""
        return peak_gmacs * 1e9 if self.column == "budget" else 1e9

    def with_after(self, after: str) -> "Trace":
        return Trace(self.time_s, self.value, self.column, after, self.source)

    def write_csv(self, path: str | os.PathLike) -> None:
        lines = [f"time_s,{self.column}"]
        lines += [f"{t!r},{v!r}" for t, v in zip(self.time_s.tolist(), self.value.tolist())]
        Path(path).write_text("\n".join(lines) + "\n")


class Integral:
    """``W(t)``, the integral of the trace's value from 0 to t, and its inverse."""

    __slots__ = ("T", "V", "C", "period")

    def __init__(self, times: list[float], values: list[float], after: str):
        self.T, self.V = times, values
        self.C = [0.0]
        for i in range(1, len(times)):
            self.C.append(self.C[-1] + (times[i] - times[i - 1]) * values[i - 1])
        # a cycle of (almost) no length cannot repeat: such a trace holds its last value
        self.period = times[-1] if after == "repeat" and times[-1] > 1e-9 else 0.0

    def _cycle(self, t: float) -> tuple[float, float]:
        """(whole cycles before t, offset of t in its cycle); no cycles when holding."""
        if not self.period:
            return 0.0, t
        n = math.floor(t / self.period)
        r = t - n * self.period
        if r >= self.period:  # rounding at a cycle boundary
            n, r = n + 1, r - self.period
        return n, max(r, 0.0)

    def at(self, t: float) -> float:
        n, r = self._cycle(t)
        i = bisect_right(self.T, r) - 1
        return n * self.C[-1] + self.C[i] + (r - self.T[i]) * self.V[i]

    def inverse(self, w: float) -> float:
        """Smallest t with W(t) >= w (``inf`` if the budget never serves that much)."""
        C, T = self.C, self.T
        if w <= 0:
            return 0.0
        if not self.period:
            if w <= C[-1]:
                return self._inverse_in_cycle(w)
            return T[-1] + (w - C[-1]) / self.V[-1] if self.V[-1] > 0 else math.inf
        if C[-1] <= 0:
            return math.inf
        n = math.ceil(w / C[-1]) - 1
        r = w - n * C[-1]
        if r <= 0:
            n, r = n - 1, r + C[-1]
        return n * self.period + self._inverse_in_cycle(min(r, C[-1]))

    def _inverse_in_cycle(self, r: float) -> float:
        i = bisect_left(self.C, r)
        return self.T[i - 1] + (r - self.C[i - 1]) / self.V[i - 1]

    def finish(self, t: float, work: float) -> float:
        """Smallest time >= t by which ``work`` more value-seconds are served."""
        if work <= 0:
            return t
        if self.period:
            return max(t, self.inverse(self.at(t) + work))
        T, C, V = self.T, self.C, self.V  # holding: one pass, searching only after t
        i = bisect_right(T, t) - 1
        w = C[i] + (t - T[i]) * V[i] + work
        if w <= C[i]:  # work below the resolution of W(t): done at once
            return t
        j = bisect_left(C, w, i + 1)
        if j < len(C):
            return max(t, T[j - 1] + (w - C[j - 1]) / V[j - 1])
        return max(t, T[-1] + (w - C[-1]) / V[-1]) if V[-1] > 0 else math.inf

    def rate(self, t: float) -> float:
        r = self._cycle(t)[1] if self.period else t
        return self.V[bisect_right(self.T, r) - 1]

    def serving_from(self, t: float) -> float:
        """The first time >= t at which the budget is above zero (``inf``: never again)."""
        while t < math.inf and self.rate(t) <= 0:
            t = self.next_change(t)
        return t

    def next_change(self, t: float) -> float:
        """Time of the first row boundary strictly after t (``inf`` once holding)."""
        n, r = self._cycle(t)
        i = bisect_right(self.T, r)
        while True:  # rounding in r can name a boundary at t itself: step past it
            if i == len(self.T):
                if not self.period:
                    return math.inf
                n, i = n + 1, 1
                continue
            change = n * self.period + self.T[i]
            if change > t:
                return change
            i += 1


def finish_time(trace: Trace, start_s: float, work_macs: float, peak_gmacs: float) -> float:
    """When ``work_macs`` MACs started at ``start_s`` are done (``inf``: never)."""
    return finish_after(trace._integral, start_s, work_macs / trace.macs_per_value_s(peak_gmacs))


def finish_after(integral: Integral, start_s: float, work: float) -> float:
    """As :func:`finish_time`, with ``work`` in value-seconds."""
    return integral.finish(start_s, work)


def work_between(trace: Trace, t0_s: float, t1_s: float, peak_gmacs: float) -> float:
    """MACs the platform serves between ``t0_s`` and ``t1_s``."""
    integral = trace._integral
    return (integral.at(t1_s) - integral.at(t0_s)) * trace.macs_per_value_s(peak_gmacs)


def budget_at(trace: Trace, t_s: float) -> float:
    """The trace's value at ``t_s`` (a fraction of peak, or GMAC/s for a gmacs trace)."""
    return trace._integral.rate(t_s)


def after_note(trace: Trace, horizon_s: float) -> str | None:
    """One line on what a run of ``horizon_s`` seconds gets past the trace's last row
    (its last value held, or the trace repeated); ``None`` when the trace covers the run."""
    end = float(trace.time_s[-1])
    if end >= horizon_s:
        return None
    name = f"trace {Path(trace.source).name}" if trace.source else "the budget trace"
    head = f"{name} ends at {end:g} s; the run lasts {horizon_s:g} s"
    if trace._integral.period:
        return f"{head}: it repeats (cycle {end:g} s), {horizon_s / end:.3g} cycles in all"
    unit = " GMAC/s" if trace.column == "gmacs" else ""
    hint = " (after: repeat in the scenario's budget repeats it instead)" \
        if trace.after == "hold" else ""
    return (f"{head}: its last value {float(trace.value[-1]):g}{unit} holds for the remaining "
            f"{horizon_s - end:g} s{hint}")


def covering(trace: Trace, horizon_s: float) -> Trace:
    """``trace`` as rows covering ``[0, horizon_s]`` that hold after it (the same budget at
    every time up to ``horizon_s``): a repeating trace is written out cycle by cycle and
    closed by a row at ``horizon_s``; a holding one is returned as it is. Values are taken
    by row, not by time, so rounding in ``cycle * period + time`` cannot shift them."""
    period = trace._integral.period
    if not period:
        return trace.with_after("hold")
    rows = list(zip(trace.time_s.tolist()[:-1], trace.value.tolist()[:-1]))
    times, values = [], []
    for cycle in range(math.ceil(horizon_s / period) + 1):
        for t, v in rows:  # the last row only marks the cycle's length
            if cycle * period + t >= horizon_s:
                break
            times.append(cycle * period + t)
            values.append(v)
    return Trace(np.array(times + [horizon_s]), np.array(values + [values[-1]]), trace.column,
                 "hold", trace.source)


def read_trace_csv(path: str | os.PathLike, after: str = "hold") -> Trace:
    """Read and validate a trace CSV; every problem names the file and the row. After its
    last row the trace holds its last value, or repeats when ``after="repeat"``."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "a readable trace CSV file", str(exc)) from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise ConfigError(path, None, "a header time_s,budget (or time_s,gmacs) and rows",
                          "an empty file")
    column = _header(path, *lines[0])
    times, values = [], []
    for row, (n, line) in enumerate(lines[1:], 1):
        t, v = _row(path, f"row {row} (line {n})", line, times[-1] if times else None, column)
        times.append(t)
        values.append(v)
    if not times:
        raise ConfigError(path, None, "at least one data row after the header")
    return Trace(np.array(times), np.array(values), column, after, str(path))


def _header(path, n: int, line: str) -> str:
    cells = [c.strip() for c in line.split(",")]
    if len(cells) != 2 or cells[0] != "time_s" or cells[1] not in COLUMNS:
        raise ConfigError(path, f"header (line {n})", "time_s,budget or time_s,gmacs", line)
    return cells[1]


def _row(path, where: str, line: str, previous: float | None, column: str) -> tuple[float, float]:
    cells = [c.strip() for c in line.split(",")]
    if len(cells) != 2:
        raise ConfigError(path, where, f"two values: time_s,{column}", line)
    try:
        t, v = float(cells[0]), float(cells[1])
    except ValueError:
        raise ConfigError(path, where, f"two numbers: time_s,{column}", line) from None
    if not math.isfinite(t) or (previous is None and t != 0):
        raise ConfigError(path, where, "time_s = 0 in the first row, finite times after",
                          cells[0])
    if previous is not None and t < previous:
        raise ConfigError(path, where, f"time_s >= {previous!r} (times never decrease)", t)
    if not math.isfinite(v) or v < 0:
        raise ConfigError(path, where, f"a finite {column} >= 0", cells[1])
    if column == "budget" and v > 1:
        raise ConfigError(path, where, "a budget in [0, 1], a fraction of the platform's peak "
                          "(e.g. 0.35, not 35 %): divide by 100, or give a gmacs column with "
                          "absolute giga-MAC/s instead", cells[1])
    return t, v
