"""The co-runner: a process that takes, on the executor's core, the share of the processor
the budget trace takes away.

Started by :func:`start` in its own process (``spawn``), pinned to the executor's core and
raised to SCHED_FIFO, so it preempts the executor at once. Every ``period_s`` (from the
shared start instant ``t0``, a ``time.monotonic()`` value) it spins for ``(1 - budget) ×
period_s`` of the period, ``budget`` being the trace's value at the period's start, then
sleeps until the next period; it stops by itself at ``end`` (so a crashed parent cannot
leave it spinning). Each interruption also costs the executor some time of its own
(switching, refilling caches), measured before the run
(:func:`testbed.validate.validation.calibrate_corunner`) and taken off every spin. The kernel caps real-time tasks (``sched_rt_runtime_us``, here 95 %
of each second), so a budget below ``1 - cap`` cannot be imposed exactly. Imports only
the standard library: the spawned child starts fast.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from bisect import bisect_right

PERIOD_S = 0.00025  # duty-cycle period: short against stages of ~0.05-0.35 ms and a
#                     sub-ms deadline, long against the ~20 µs the co-runner takes to wake
#                     (a longer period spreads one stage's slowdown more widely)
PRIORITY = 10      # SCHED_FIFO priority (any real-time priority preempts ordinary tasks)
READY_TIMEOUT_S = 30.0


def busy_share(times: list[float], budgets: list[float], t: float) -> float:
    """The share of a period starting at ``t`` the co-runner spins: 1 - budget, in [0, 1]."""
    i = max(0, bisect_right(times, t) - 1)
    return min(1.0, max(0.0, 1.0 - budgets[i]))


def duty_cycle(times: list[float], budgets: list[float], t0: float, end: float,
               period_s: float = PERIOD_S, clock=time.monotonic, sleep=time.sleep,
               overhead_s: float = 0.0) -> int:
    """Spin and sleep from ``t0`` to ``end`` (monotonic seconds) by the trace
    ``(times, budgets)`` (seconds since ``t0``, fractions of peak, holding after the last
    row), each spin ``overhead_s`` shorter than ``(1 - budget) × period_s`` (what the
    executor loses to each interruption anyway; :func:`busy_seconds`). Returns the number
    of periods it spun in."""
    sleep(max(0.0, t0 - clock()))
    k = served = 0
    while True:
        start = t0 + k * period_s
        if start >= end:
            return served
        share = busy_share(times, budgets, start - t0)
        if share > 0:
            served += 1
            stop = start + busy_seconds(share, period_s, overhead_s)
            while clock() < stop:
                pass
            k = max(k + 1, int((clock() - t0) / period_s))  # a late wake skips periods
        else:  # full budget: stay away (a wake-up alone costs the executor) until it ends
            change = min(_next_change(times, start - t0), end - t0 + period_s)
            k = max(k + 1, math.ceil((change - 1e-9) / period_s))
        delay = min(t0 + k * period_s, end) - clock()
        if delay > 0:
            sleep(delay)


def busy_seconds(share: float, period_s: float, overhead_s: float = 0.0) -> float:
    """How long to spin in a period to take ``share`` of it from the executor, which also
    loses ``overhead_s`` per interruption (switching, cache refill); a whole period
    stays whole."""
    if share >= 1.0:
        return period_s
    return max(0.0, share * period_s - overhead_s)


def imposed(times: list[float], budgets: list[float], horizon_s: float,
            period_s: float = PERIOD_S, overhead_s: float = 0.0
            ) -> tuple[list[float], list[float]]:
    """What the co-runner imposes, as budget rows ``(times, fractions)``: in every period
    whose budget ``b`` is below 1 the executor gets nothing while the co-runner spins
    (:func:`busy_seconds`: ``(1 - b) × period_s - overhead_s``) and then, for the rest of
    the period, the share that serves ``b × period_s`` in all (what each interruption
    costs it, ``overhead_s``, spread over that rest); a period at full budget is whole. The duty cycle :func:`duty_cycle` runs, at its own resolution: the simulator
    serves the validation's jobs from these rows (the trace's own, coarser rows are a
    fluid approximation of them)."""
    out_t, out_v = [0.0], [1.0]

    def row(t: float, v: float) -> None:
        if v == out_v[-1]:
            return
        if t == out_t[-1]:
            out_v[-1] = v
            if len(out_v) > 1 and out_v[-2] == v:
                out_t.pop()
                out_v.pop()
        else:
            out_t.append(t)
            out_v.append(v)

    k, end = 0, math.ceil(horizon_s / period_s)
    while k < end:
        start = k * period_s
        share = busy_share(times, budgets, start)
        if share <= 0:  # full budget until the trace changes
            row(start, 1.0)
            k = max(k + 1, math.ceil((min(_next_change(times, start), horizon_s) - 1e-12)
                                     / period_s))
            continue
        spin = busy_seconds(share, period_s, overhead_s)
        rest = period_s - spin
        if spin > 0:
            row(start, 0.0)
        if rest > 0:
            rate = (1.0 - share) * period_s / rest
            row(start + spin, 1.0 if rate >= 1.0 - 1e-9 else rate)
        k += 1
    row(end * period_s, 1.0)
    return out_t, out_v


def _next_change(times: list[float], t: float) -> float:
    """The first row time after ``t`` (``inf``: none)."""
    i = bisect_right(times, t)
    return times[i] if i < len(times) else math.inf


def _child(conn, core: int, times: list[float], budgets: list[float], period_s: float,
           overhead_s: float) -> None:
    try:
        os.sched_setaffinity(0, {core})
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PRIORITY))
    except OSError as exc:
        conn.send(f"error: {exc}")
        return
    conn.send("ready")
    t0, end = conn.recv()
    duty_cycle(times, budgets, t0, end, period_s, overhead_s=overhead_s)


class CoRunner:
    """A started co-runner; :meth:`go` gives it the shared start and end instants."""

    def __init__(self, core: int, times: list[float], budgets: list[float],
                 period_s: float = PERIOD_S, overhead_s: float = 0.0):
        from ..errors import TestbedError
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child, core, list(times), list(budgets),
                                                     period_s, overhead_s), daemon=True)
        self.proc.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.conn.poll(0.05):
            if not self.proc.is_alive() or time.monotonic() > deadline:
                self.stop(0.0)
                raise TestbedError(f"co-runner: the process did not start (exit code "
                                   f"{self.proc.exitcode})")
        answer = self.conn.recv()
        if answer != "ready":
            self.stop()
            raise TestbedError(f"co-runner: cannot run on core {core}: {answer}")

    def go(self, t0: float, end: float) -> None:
        self.conn.send((t0, end))

    def stop(self, grace_s: float = 2.0) -> None:
        """Wait for it to finish (it stops at ``end``), else terminate it."""
        self.proc.join(grace_s)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(1.0)
