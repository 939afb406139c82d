"""Folding simulation runs, one seed at a time, into what a report needs.

Sits between ``sim`` (whose results it reads: records, stage events, the budget trace)
and ``writers``. After each run only small things are kept — per-seed metric
summaries, final-result latencies, and the first run's stage events inside the plotted
window — while job rows go straight to ``jobs.csv``; so memory stays flat however many
seeds or jobs a run has. ``quality_bar`` and ``mk`` are handed to
:func:`~testbed.report.metrics.seed_summaries` (the definition of ``hit_at_quality`` and
of the (m,k)-firm figures). It never calls the simulator itself.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from ..sim.records import JobRecord, StageEvent
from .metrics import (MK, SeedSummary, SystemSummary, check_mk, combine, combine_tasks,
                      final_latencies, seed_summaries)
from .plots import WINDOW_S
from .writers import JobsCsvWriter


class RunCollector:
    """Accumulates the runs of one scenario variant (same systems, several seeds)."""

    def __init__(self, systems: Sequence[str], *, idle_w: float | None = None,
                 duration_s: float | None = None, jobs: JobsCsvWriter | None = None,
                 window_s: float = WINDOW_S, quality_bar: float | None = None,
                 mk: tuple[int, int] = MK):
        self.systems = tuple(systems)
        self.idle_w, self.duration_s, self.jobs = idle_w, duration_s, jobs
        self.quality_bar, self.mk = quality_bar, check_mk(mk)
        self.window = (0.0, min(window_s, duration_s or window_s))
        self.seeds: list[int] = []
        self.per_seed: list[SeedSummary] = []
        self.latencies_s: dict[str, list[float]] = {n: [] for n in self.systems}
        self.events: list[StageEvent] = []
        self.first = None          # the first run's result object (for its budget trace)
        self.tasks: list[dict] = []  # task sets (issue 20): each run's per-task statistics

    def add(self, seed: int, records: Iterable[JobRecord],
            events: Iterable[StageEvent] = (), result=None) -> None:
        """Fold in the run of ``seed``; ``result`` (the simulator's object) is kept only
        for the first seed, for its budget trace."""
        records = list(records)
        if self.jobs is not None:
            self.jobs.write(records)
        self.seeds.append(seed)
        self.per_seed += seed_summaries(records, idle_w=self.idle_w, duration_s=self.duration_s,
                                        systems=self.systems, seed=seed,
                                        quality_bar=self.quality_bar, mk=self.mk)
        for name, values in final_latencies(records).items():
            self.latencies_s.setdefault(name, []).extend(values)
        if getattr(result, "tasks", None):
            self.tasks.append(result.tasks)
        if len(self.seeds) == 1:
            t0, t1 = self.window
            self.events = [e for e in events if e.end_s >= t0 and e.start_s <= t1]
            self.first = result

    def task_summary(self) -> dict[str, dict]:
        """The non-DNN tasks over every run (empty unless the budget is a task set)."""
        return combine_tasks(self.tasks)

    def summaries(self) -> dict[str, SystemSummary]:
        return combine(self.per_seed, systems=self.systems, seeds=self.seeds)


def budget_steps(time_s: np.ndarray, value: np.ndarray, until_s: float, *,
                 repeat: bool = False, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a piecewise-constant trace covering ``[0, until_s]``, times ``scale``.

    When ``repeat``, the last row's time is the cycle length (DESIGN.md §4, as in
    :mod:`testbed.sim.trace`) and the cycle is tiled; otherwise the last value holds."""
    t, v = np.asarray(time_s, float), np.asarray(value, float) * scale
    period = t[-1] if repeat and len(t) > 1 else 0.0
    if period > 0:
        cycles = math.ceil(until_s / period) if until_s > 0 else 1
        t = np.concatenate([t[:-1] + n * period for n in range(cycles)])
        v = np.tile(v[:-1], cycles)
    keep = t <= until_s
    keep[0] = True
    return t[keep], v[keep]
