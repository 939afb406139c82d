"""How ``testbed validate`` makes the real processor as slow as the budget trace says.

Two mechanisms, chosen once per validation (:func:`choose`): the **co-runner**
(:mod:`testbed.validate.corunner`: a SCHED_FIFO process pinned to the executor's core
that takes ``1 - budget`` of every short period; needs the right to use real-time
scheduling, which :func:`detect_fifo` checks by trying it) and **time dilation**: the
stages run at full speed and each measured duration is stretched on a virtual clock by
the trace (a stage started at ``t`` that took ``d`` seconds ends when the trace's integral
from ``t`` reaches ``d``). The executor (:mod:`testbed.validate.executor`) reads time
only through a clock (:class:`WallClock` or :class:`DilatedClock`), so the job loop is the
same under both. Pure standard library.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MECHANISMS = ("auto", "corunner", "dilation")
IDLE = ("spin", "sleep")  # how the real executor waits for the next frame
RT_RUNTIME = Path("/proc/sys/kernel/sched_rt_runtime_us")
RT_PERIOD = Path("/proc/sys/kernel/sched_rt_period_us")

Detector = Callable[[], "Detection"]
SPIN_S = 0.0002  # the wall clock spins (rather than sleeps) this long before an arrival


@dataclass(frozen=True)
class Detection:
    allowed: bool
    reason: str                  # why (not) allowed, for the report
    rt_cap: float | None = None  # share of a core real-time tasks may take (None: no cap)


@dataclass(frozen=True)
class Mechanism:
    name: str          # "corunner" or "dilation"
    requested: str     # what the user asked for (one of MECHANISMS)
    reason: str        # why this one ran
    rt_cap: float | None = None

    @property
    def min_budget(self) -> float:
        """The smallest budget the co-runner can impose (the real-time cap leaves the rest
        to ordinary processes); 0 under dilation."""
        if self.name != "corunner" or self.rt_cap is None:
            return 0.0
        return max(0.0, 1.0 - self.rt_cap)


def rt_cap() -> float | None:
    """The share of each CPU real-time tasks may use (``sched_rt_runtime_us`` /
    ``sched_rt_period_us``); None when unlimited or unreadable."""
    try:
        runtime = int(RT_RUNTIME.read_text())
        period = int(RT_PERIOD.read_text())
    except (OSError, ValueError):
        return None
    return None if runtime < 0 or period <= 0 else runtime / period


def detect_fifo() -> Detection:
    """Whether this process may use SCHED_FIFO and pin itself to one core: try both on
    itself and undo them."""
    if not all(hasattr(os, n) for n in ("sched_setscheduler", "sched_setaffinity",
                                          "SCHED_FIFO")):
        return Detection(False, "this OS has no sched_setscheduler/sched_setaffinity")
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, before[0], before[1])
    except OSError as exc:
        return Detection(False, f"SCHED_FIFO refused ({exc.strerror or exc})")
    return Detection(True, "SCHED_FIFO allowed", rt_cap())


def choose(requested: str, detector: Detector = detect_fifo) -> Mechanism:
    """The mechanism to run: ``corunner`` where the detector allows it (``auto`` falls
    back to ``dilation`` otherwise; ``corunner`` asked for but refused is an error)."""
    from ..errors import TestbedError
    if requested not in MECHANISMS:
        raise TestbedError(f"--mechanism: expected one of {', '.join(MECHANISMS)}, "
                           f"got {requested!r}")
    if requested == "dilation":
        return Mechanism("dilation", requested, "asked for (--mechanism dilation)")
    found = detector()
    if found.allowed:
        return Mechanism("corunner", requested, found.reason, found.rt_cap)
    if requested == "corunner":
        raise TestbedError(f"--mechanism corunner: the co-runner cannot run here: "
                           f"{found.reason}; use --mechanism dilation")
    return Mechanism("dilation", requested, f"fallback: {found.reason}")


class WallClock:
    """Real time in seconds since ``t0`` (a ``time.monotonic()`` instant shared with the
    co-runner); a stage takes what it takes."""

    def __init__(self, t0: float, idle: str = "sleep"):
        self.t0, self.spin_s = t0, math.inf if idle == "spin" else SPIN_S

    def now(self) -> float:
        return time.monotonic() - self.t0

    def wait_until(self, t: float) -> float:
        """Spin until ``t`` (``idle="spin"``), or sleep until shortly before it and then
        spin (``"sleep"``: an ordinary process wakes ~50-70 µs late from a sleep, the
        kernel's timer slack, and a core that idled runs the next stage slower)."""
        delay = t - self.now() - self.spin_s
        if delay > 0:
            time.sleep(delay)
        now = self.now()
        while now < t:
            now = self.now()
        return now

    def run(self, fn: Callable[[], object]) -> tuple[float, object]:
        """Run ``fn``; (when it ended, its result)."""
        out = fn()
        return self.now(), out


class DilatedClock:
    """Virtual time: everything the executor does between two clock readings (a stage,
    the policy's decision) is measured at full speed and stretched by the trace's budget
    from where the virtual clock stands; waiting for a frame jumps ahead at once. The
    default timer is this thread's CPU time: a preemption by another process is not
    the stage's duration (the trace, not the host's load, says how slow it runs)."""

    def __init__(self, integral, to_fraction: float = 1.0,
                 timer: Callable[[], float] = time.thread_time):
        self.integral, self.to_fraction, self.timer = integral, to_fraction, timer
        self.t = 0.0
        self.mark = timer()

    def now(self) -> float:
        return self.t

    def wait_until(self, t: float) -> float:
        self.t = max(self.t, t)
        self.mark = self.timer()
        return self.t

    def run(self, fn: Callable[[], object]) -> tuple[float, object]:
        out = fn()
        now = self.timer()
        self.t = dilate(self.integral, self.t, now - self.mark, self.to_fraction)
        self.mark = now
        return self.t, out


def dilate(integral, start_s: float, full_speed_s: float, to_fraction: float = 1.0) -> float:
    """When work that takes ``full_speed_s`` at budget 1.0, started at ``start_s``, ends
    under the trace (``integral``: :class:`~testbed.sim.trace.Integral`; ``to_fraction``
    turns its values into fractions of peak)."""
    return integral.finish(start_s, max(0.0, full_speed_s) / to_fraction)
