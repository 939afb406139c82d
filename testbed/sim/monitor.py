"""The platform's budget monitor: everything a policy knows about the budget.

Created by :mod:`testbed.sim.processor`, one per system, over the run's budget trace. A
platform samples its budget signal every ``monitor_ms`` (``platform.monitor_ms``, default
1 ms) at t = 0, p, 2p, ... — the same clock for every system of a scenario, so no system
learns more about the budget because its steps end more often (issue 16: equal
information). A policy sees the newest sample (``budget_now``) and an exponentially
weighted moving average of every sample so far (``budget_estimate``: weight ``alpha`` per
sample, 1.0 before the first). A scenario's mis-estimated budget signal
(:class:`~testbed.sim.faults.Signal`) distorts the samples: the monitor reads
``factor(s) × budget(s − delay)`` at sample time s, while the platform serves the truth.

Samples are never taken one by one. Between two changes of the signal all samples are
equal, and n equal samples v move an EWMA e to ``v + (1 − alpha)^n (e − v)``, so catching
up costs one step per change of the signal, not one per sample. Reads must come at
non-decreasing times (the processor's clock only moves forward).
"""

from __future__ import annotations

import math
from typing import Callable

from .trace import Integral

SignalView = tuple[Callable[[float], float], Callable[[float], float]]
"""(value at time s as a fraction of peak, time of the first change strictly after s)."""


class Monitor:
    __slots__ = ("period", "keep", "value_at", "change_after", "taken", "estimate", "now",
                 "until")

    def __init__(self, period_s: float, alpha: float, signal: SignalView):
        self.period, self.keep = period_s, 1.0 - alpha
        self.value_at, self.change_after = signal
        self.taken = 0          # samples folded in so far (sample i is at i * period)
        self.until = 0          # samples before this index all read ``now``
        self.estimate = 1.0     # before any evidence, assume the full platform
        self.now = 1.0

    def read(self, t: float) -> tuple[float, float]:
        """(EWMA of the samples up to t, newest sample at or before t)."""
        last = self._index_at_or_before(t)
        while self.taken <= last:
            if self.taken >= self.until:  # a new stretch of equal samples begins
                s = self.taken * self.period
                self.now = self.value_at(s)
                self.until = self._first_index_from(self.change_after(s))
            n = max(1, min(last + 1, self.until) - self.taken)  # always progress
            self.estimate = self.now + self.keep ** n * (self.estimate - self.now)
            self.taken += n
        return self.estimate, self.now

    def next_reading(self, t: float) -> float:
        """When the newest sample next differs from the one at or before t (``inf``: never):
        the first sample time at or after the signal's next change."""
        i = self._index_at_or_before(t)
        change = self.change_after(i * self.period)
        if change == math.inf:
            return math.inf
        return max(self._first_index_from(change), i + 1) * self.period

    def _index_at_or_before(self, t: float) -> int:
        i = int(t / self.period)
        if (i + 1) * self.period <= t:  # rounding
            i += 1
        elif i and i * self.period > t:
            i -= 1
        return i

    def _first_index_from(self, t: float) -> int:
        """The first sample index whose time is >= t (a huge number for ``inf``)."""
        if t == math.inf:
            return 1 << 62
        i = self._index_at_or_before(t)
        return i if i * self.period >= t else i + 1


def true_signal(integral: Integral, to_fraction: float) -> SignalView:
    """The budget as the platform serves it, as a fraction of peak."""
    return (lambda s: integral.rate(s) * to_fraction), integral.next_change


def distorted_signal(integral: Integral, to_fraction: float, signal) -> SignalView:
    """The budget as a :class:`~testbed.sim.faults.Signal` tells it: ``factor(s)`` times
    the budget ``delay`` seconds ago."""
    delay = signal.delay_s

    def reading(s: float) -> tuple[float, float]:
        """(the trace time the sample at s reads, when that reading next changes). A
        change at c reaches every sample at c + delay or later (``s - delay`` can round
        below c even when s == c + delay)."""
        r = max(0.0, s - delay)
        change = integral.next_change(r)
        while change + delay <= s:
            r, change = change, integral.next_change(change)
        return r, change + delay

    def value_at(s: float) -> float:
        return integral.rate(reading(s)[0]) * to_fraction * signal.factor(s)

    def change_after(s: float) -> float:
        return min(reading(s)[1], signal.next_change(s))
    return value_at, change_after
