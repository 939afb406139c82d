"""Metrics (DESIGN.md §5): pure functions from simulator records to numbers.

Reads only :class:`~testbed.sim.records.JobRecord` lists (what ``sim`` emits) and returns
plain values; nothing here writes a file or draws. Every metric is computed once per
(system, seed) — a :class:`SeedSummary` — and then combined over seeds into an
:class:`Interval`: the mean over seeds with a two-sided 95 % Student-t confidence
interval. With one seed (or one seed with a defined value) the interval is ``None``:
one run says nothing about run-to-run spread, and we do not pretend it does.
Percentiles use numpy's linear interpolation within one seed; the reported value is the
mean of the per-seed percentiles. Runs with faults (:mod:`testbed.sim.faults`) are also
broken down by fault window (:func:`fault_group`: ``none``, ``stall``, ``dropout``,
``burst``, ``stage_failure`` and their ``+`` combinations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..sim.records import JobRecord

CONFIDENCE = 0.95
# Bumped whenever a metric's definition changes (2: idle energy only while no job holds the
# processor), so that sweeps discard rows computed by the old definition.
REVISION = 2
PERCENTILES = (50, 95, 99)
# Two-sided 95 % Student-t critical values for 1..30 degrees of freedom.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964

METRICS = (
    "jobs", "dropped", "hit_rate", "accuracy_at_deadline", "mean_stages",
    "macs_executed", "macs_wasted", "wasted_fraction",
    "energy_dynamic_j", "energy_idle_j", "energy_j", "energy_per_job_j",
    *(f"latency_{kind}_p{p}_s" for kind in ("first", "final") for p in PERCENTILES),
)
"""Every metric name, in the order reports show them."""


@dataclass(frozen=True)
class Interval:
    """One metric over seeds: ``mean`` of the defined per-seed ``values`` and its 95 %
    interval ``(low, high)``, ``None`` when fewer than two seeds define the metric."""

    mean: float | None
    ci: tuple[float, float] | None
    n: int
    values: tuple[float | None, ...]

    @property
    def half_width(self) -> float | None:
        return None if self.ci is None else (self.ci[1] - self.ci[0]) / 2

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci95": None if self.ci is None else list(self.ci),
                "n": self.n, "per_seed": list(self.values)}


@dataclass(frozen=True)
class SeedSummary:
    """All metrics of one system in one seed, overall and per job class."""

    system: str
    seed: int
    metrics: dict[str, float | None]
    classes: dict[str, dict[str, float | None]] = field(default_factory=dict)
    faults: dict[str, dict[str, float | None]] = field(default_factory=dict)  # by fault_group


@dataclass(frozen=True)
class SystemSummary:
    """All metrics of one system combined over ``seeds``, overall and per job class."""

    system: str
    seeds: tuple[int, ...]
    metrics: dict[str, Interval]
    classes: dict[str, dict[str, Interval]]
    faults: dict[str, dict[str, Interval]] = field(default_factory=dict)  # empty: no faults


def t_critical(df: int) -> float:
    """Two-sided 95 % Student-t critical value (Cornish-Fisher expansion above 30 df)."""
    if df < 1:
        raise ValueError("degrees of freedom must be >= 1")
    if df <= len(_T95):
        return _T95[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def interval(values: Sequence[float | None]) -> Interval:
    """Mean and 95 % t-interval of the defined values (``None`` = undefined in that seed)."""
    defined = [float(v) for v in values if v is not None]
    n = len(defined)
    if n == 0:
        return Interval(None, None, 0, tuple(values))
    mean = math.fsum(defined) / n
    if n < 2:
        return Interval(mean, None, n, tuple(values))
    half = t_critical(n - 1) * float(np.std(defined, ddof=1)) / math.sqrt(n)
    return Interval(mean, (mean - half, mean + half), n, tuple(values))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation), ``None`` for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _latency_metrics(records: Sequence[JobRecord]) -> dict[str, float | None]:
    first = [r.latency_first_s for r in records if r.first_result_s is not None]
    final = [r.latency_final_s for r in records if r.final_result_s is not None]
    out = {}
    for kind, values in (("first", first), ("final", final)):
        for p in PERCENTILES:
            out[f"latency_{kind}_p{p}_s"] = percentile(values, p)
    return out


def group_metrics(records: Sequence[JobRecord], idle_j: float | None = None
                  ) -> dict[str, float | None]:
    """Every metric of one group of records (one system, one seed, maybe one class).

    ``idle_j`` is the platform's static energy over the run (:func:`idle_energy`),
    ``None`` when unknown; it is added to the dynamic energy of the records.
    """
    n = len(records)
    executed = math.fsum(r.macs_executed for r in records)
    wasted = math.fsum(r.macs_wasted for r in records)
    dynamic = math.fsum(r.energy_j for r in records)
    total = dynamic + (idle_j or 0.0)
    return {
        "jobs": n,
        "dropped": sum(r.dropped for r in records),
        "hit_rate": _ratio(sum(r.hit for r in records), n),
        "accuracy_at_deadline": _ratio(sum(r.hit and r.correct for r in records), n),
        "mean_stages": _ratio(sum(r.stages_done for r in records), n),
        "macs_executed": executed,
        "macs_wasted": wasted,
        "wasted_fraction": _ratio(wasted, executed),
        "energy_dynamic_j": dynamic,
        "energy_idle_j": idle_j,
        "energy_j": total,
        "energy_per_job_j": _ratio(total, n),
        **_latency_metrics(records),
    }


def _by(records: Iterable[JobRecord], key) -> dict:
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def fault_group(record: JobRecord) -> str:
    """The fault windows that touched a job, plus ``stage_failure`` if one of its stages
    raised; ``none`` for a job no fault touched."""
    failed = "stage_failure" if record.failed_stage else ""
    return "+".join(p for p in (record.fault, failed) if p) or "none"


def _fault_metrics(records: list[JobRecord]) -> dict[str, dict[str, float | None]]:
    """Metrics per fault group; empty when no fault touched any job (a fault-free run)."""
    groups = _by(records, fault_group)
    if set(groups) <= {"none"}:
        return {}
    return {g: group_metrics(rs) for g, rs in sorted(groups.items())}


def seed_summaries(records: Iterable[JobRecord], *, idle_w: float | None = None,
                   duration_s: float | None = None, systems: Sequence[str] = (),
                   seed: int | None = None) -> list[SeedSummary]:
    """One :class:`SeedSummary` per (system, seed) present in ``records``, in first-seen
    order. Idle energy (``idle_w`` × the time of the run the system's processor held no
    job) counts once per system and seed, in the overall metrics only (it belongs to no
    job class). A name in ``systems`` with no record in run ``seed`` still gets a
    summary: zero jobs, not an unknown."""
    groups = _by(records, lambda r: (r.system, r.seed))
    for name in systems if seed is not None else ():
        groups.setdefault((name, seed), [])
    out = []
    for (system, seed_), group in groups.items():
        classes = {c: group_metrics(rs) for c, rs in _by(group, lambda r: r.job_class).items()}
        out.append(SeedSummary(system, seed_, group_metrics(group, idle_energy(group, idle_w, duration_s)),
                               classes, _fault_metrics(group)))
    return out


def idle_energy(records: Sequence[JobRecord], idle_w: float | None,
                duration_s: float | None) -> float | None:
    """``idle_w`` × (``duration_s`` minus the processor time the records' jobs held), the
    static energy of one system's run; ``None`` when either is unknown. (The energy of a
    busy processor is the records' dynamic energy: ``pj_per_mac`` is whole-chip energy
    per MAC.)"""
    if idle_w is None or duration_s is None:
        return None
    busy = math.fsum(r.busy_s for r in records)
    return idle_w * max(0.0, duration_s - busy)


def _combine_dicts(per_seed: Sequence[dict | None]) -> dict[str, Interval]:
    return {m: interval([None if d is None else d[m] for d in per_seed]) for m in METRICS}


def combine(summaries: Iterable[SeedSummary], systems: Sequence[str] | None = None,
            seeds: Sequence[int] | None = None) -> dict[str, SystemSummary]:
    """Combine per-seed summaries into one :class:`SystemSummary` per system.

    ``systems`` fixes the order (default: first seen); ``seeds`` the seeds to report
    (default: every seed seen). A system absent from a seed is undefined there; a class
    absent from a seed had zero jobs there.
    """
    summaries = list(summaries)
    seeds = tuple(seeds) if seeds is not None else tuple(dict.fromkeys(s.seed for s in summaries))
    systems = list(systems) if systems is not None else list(dict.fromkeys(s.system for s in summaries))
    index = {(s.system, s.seed): s for s in summaries}
    return {name: _combine_system(name, [index.get((name, seed)) for seed in seeds], seeds)
            for name in systems}


def _combine_system(name: str, per_seed: list[SeedSummary | None],
                    seeds: tuple[int, ...]) -> SystemSummary:
    classes = dict.fromkeys(c for s in per_seed if s for c in s.classes)
    faults = sorted({g for s in per_seed if s for g in s.faults})
    return SystemSummary(
        system=name, seeds=seeds,
        metrics=_combine_dicts([s.metrics if s else None for s in per_seed]),
        classes={c: _combine_dicts([_class_or_empty(s, c) for s in per_seed])
                 for c in classes},
        faults={g: _combine_dicts([_fault_or_empty(s, g) for s in per_seed]) for g in faults})


def _class_or_empty(summary: SeedSummary | None, job_class: str) -> dict | None:
    """A class with no job in a seed had zero jobs there (rates undefined, sums zero)."""
    if summary is None:
        return None
    return summary.classes.get(job_class) or group_metrics([])


def _fault_or_empty(summary: SeedSummary | None, group: str) -> dict | None:
    """A fault group with no job in a seed had zero jobs there."""
    if summary is None:
        return None
    return summary.faults.get(group) or group_metrics([])


def summarize(records: Iterable[JobRecord], *, idle_w: float | None = None,
              duration_s: float | None = None, systems: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None) -> dict[str, SystemSummary]:
    """Records of any number of systems and seeds -> one :class:`SystemSummary` each."""
    return combine(seed_summaries(records, idle_w=idle_w, duration_s=duration_s),
                   systems=systems, seeds=seeds)


def final_latencies(records: Iterable[JobRecord]) -> dict[str, list[float]]:
    """Latency to the emitted result of every job that has one, per system (for CDFs)."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.final_result_s is not None:
            out.setdefault(r.system, []).append(r.latency_final_s)
    return out
