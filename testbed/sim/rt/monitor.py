"""The capacity monitor of a DNN task on a task-set platform: what its policy observes.

Created by :mod:`testbed.sim.rt.engine`, one per DNN workload class. Like the fluid
platform's :class:`~testbed.sim.monitor.Monitor` it samples every ``monitor_ms`` at t = 0,
p, 2p, ... and gives a policy the newest sample (``budget_now``) and an EWMA of all
samples (``budget_estimate``); here sample i is the share of the period before it,
``[(i-1)p, ip)``, in which no interfering work ran (higher-priority work under fixed
priority, any other task's work under EDF; context switches count with the job they
dispatch). The engine reports each interfering run as an interval when it dispatches it,
so a read at t sees everything that ran before t. Stretches of equal samples (all free,
or all taken by one long run) are folded in one step each.
"""

from __future__ import annotations

import math


class CapacityMonitor:
    __slots__ = ("period", "keep", "starts", "ends", "head", "taken", "estimate", "now")

    def __init__(self, period_s: float, alpha: float):
        self.period, self.keep = period_s, 1.0 - alpha
        self.starts: list[float] = []   # interfering intervals, in time order, merged
        self.ends: list[float] = []
        self.head = 0                   # intervals before this one end before the next window
        self.taken = 0                  # samples folded in (sample i is at i * period)
        self.estimate = self.now = 1.0  # before any evidence, assume the full platform

    def add(self, start: float, end: float) -> None:
        if end <= start:
            return
        if self.ends and start <= self.ends[-1]:
            self.ends[-1] = max(self.ends[-1], end)
        else:
            self.starts.append(start)
            self.ends.append(end)

    def read(self, t: float) -> tuple[float, float]:
        """(EWMA of the samples up to t, newest sample at or before t)."""
        last = self._index_at_or_before(t)
        while self.taken <= last:
            value, n = self._stretch(self.taken, last)
            self.now = value
            self.estimate = value + self.keep ** n * (self.estimate - value)
            self.taken += n
        if self.head > 4096:
            del self.starts[:self.head], self.ends[:self.head]
            self.head = 0
        return self.estimate, self.now

    def next_change(self, t: float) -> float:
        """The next sample time after t whose reading may differ from the one at t, if no
        more interfering work runs (``inf``: every later sample reads 1.0, as the one at
        t does): the samples whose window still overlaps the last interfering run."""
        i = self._index_at_or_before(t)
        if not self.ends:
            return math.inf
        settled = math.ceil(self.ends[-1] / self.period) + 1  # first window after it
        return (i + 1) * self.period if i < settled else math.inf

    def _stretch(self, j: int, last: int) -> tuple[float, int]:
        """(value, count) of the equal samples from index j on (at most up to ``last``)."""
        if j == 0:
            return 1.0, 1
        p, starts, ends = self.period, self.starts, self.ends
        lo, hi = (j - 1) * p, j * p
        while self.head < len(ends) and ends[self.head] <= lo:
            self.head += 1
        k = self.head
        if k == len(starts) or starts[k] >= hi:  # free until the next interval's window
            nxt = starts[k] if k < len(starts) else math.inf
            m = last if nxt == math.inf else min(last, int(nxt / p))
            return 1.0, max(1, m - j + 1)
        if starts[k] <= lo and ends[k] >= hi:   # one run covers whole windows
            return 0.0, max(1, min(last, int(ends[k] / p)) - j + 1)
        busy = 0.0
        while k < len(starts) and starts[k] < hi:
            busy += min(ends[k], hi) - max(starts[k], lo)
            k += 1
        return max(0.0, 1.0 - busy / p), 1

    def _index_at_or_before(self, t: float) -> int:
        i = int(t / self.period)
        if (i + 1) * self.period <= t:
            i += 1
        elif i and i * self.period > t:
            i -= 1
        return i
