"""Response-time analysis (RTA) for fixed-priority task sets: the theory the simulated
schedule is checked against (``metrics.json`` ``tasks.<name>.rta_bound_ms``).

Pure functions, used by :mod:`testbed.sim.rt.engine` and the tests. The standard
iterative analysis for preemptive fixed priority with release jitter and arbitrary
deadlines (Tindell's busy-period form): the q-th job of task i in its level-i busy period
completes by ``w(q) = B + (q+1) C_i' + Σ_j ⌈(w(q) + J_j) / T_j⌉ C_j'`` over the tasks j of
priority ≥ i's (equal priorities are served in release order, so they count), and its
response, from its nominal release, is ``w(q) − q T_i + J_i``; q grows until the busy
period ends. Context switches: a job is charged one switch to start (``C_i' = C_i + s``)
and each interfering job two (``C_j' = C_j + 2s``: its own start and the resumption of
the job it preempted). ``B`` is the longest non-preemptible stretch of lower-priority
work (a switch, or under ``preemption: stage`` a DNN step plus its switch). A bound is
``None`` when it does not exist: an unbounded execution time, a task with no minimum
inter-arrival time, or a level-i utilisation of 1 or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ITERATIONS = 100_000
MAX_BUSY_S = 3600.0  # a busy period longer than an hour: treated as unbounded


@dataclass(frozen=True)
class RtaTask:
    name: str
    priority: int
    wcet_s: float | None       # None: unbounded
    period_s: float            # period, or minimum inter-arrival time (0: none)
    jitter_s: float = 0.0
    blocking_s: float = 0.0    # longest lower-priority non-preemptible stretch


def response_bounds(tasks: list[RtaTask], switch_s: float = 0.0) -> dict[str, float | None]:
    """Worst-case response time (s, from the nominal release) of every task, or None."""
    return {t.name: _bound(t, [o for o in tasks if o is not t and o.priority >= t.priority],
                           switch_s) for t in tasks}


def _bound(task: RtaTask, higher: list[RtaTask], s: float) -> float | None:
    if task.wcet_s is None or task.period_s <= 0:
        return None
    if any(h.wcet_s is None or h.period_s <= 0 for h in higher):
        return None
    own = task.wcet_s + s
    hp = [(h.wcet_s + 2 * s, h.period_s, h.jitter_s) for h in higher]
    if own / task.period_s + sum(c / t for c, t, _ in hp) >= 1.0:
        return None
    worst, q = 0.0, 0
    while True:
        w = _busy(task.blocking_s + (q + 1) * own, hp)
        if w is None:
            return None
        worst = max(worst, w - q * task.period_s + task.jitter_s)
        if w <= (q + 1) * task.period_s - task.jitter_s:
            return worst
        q += 1
        if q > MAX_ITERATIONS:
            return None


def _busy(base: float, hp: list[tuple[float, float, float]]) -> float | None:
    """The least fixed point of ``w = base + Σ ⌈(w + J) / T⌉ C``."""
    w = base + sum(c for c, _, _ in hp)
    for _ in range(MAX_ITERATIONS):
        new = base + sum(math.ceil((w + j) / t - 1e-12) * c for c, t, j in hp)
        if new <= w + 1e-15:
            return new
        if new > MAX_BUSY_S:
            return None
        w = new
    return None
