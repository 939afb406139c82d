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

Beyond hits and correctness: ``utility`` (mean measured accuracy of the emitted step's
model, a miss counting 0), ``hit_at_quality`` (a result by the deadline from a model at
least ``quality_bar`` accurate), the (m,k)-firm figures of a control loop
(:func:`longest_miss_run`, :func:`mk_violation_share`, over jobs in ``job_id`` order) and
the share of jobs answered by each step (``SeedSummary.answer_share``). Systems of one run
see the same frames and budget per seed, so :func:`paired` compares them seed by seed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..sim.records import JobRecord

CONFIDENCE = 0.95
# Bumped whenever a metric's definition changes (2: idle energy only while no job holds the
# processor; 3: utility, hit at quality, (m,k)-firm figures, answer shares), so that
# sweeps discard rows computed by the old definition.
REVISION = 3
MK = (9, 10)
"""Default (m, k): at least 9 of every 10 consecutive jobs need a result by the deadline."""
PERCENTILES = (50, 95, 99)
# Two-sided 95 % Student-t critical values for 1..30 degrees of freedom.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964

METRICS = (
    "jobs", "dropped", "hit_rate", "accuracy_at_deadline", "utility", "hit_at_quality",
    "mean_stages", "answer_share_none", "mk_longest_miss_run", "mk_violation_share",
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
    """All metrics of one system in one seed, overall and per job class; ``answer_share``
    maps each step that answered some job (1..K) to the share of jobs it answered."""

    system: str
    seed: int
    metrics: dict[str, float | None]
    classes: dict[str, dict[str, float | None]] = field(default_factory=dict)
    faults: dict[str, dict[str, float | None]] = field(default_factory=dict)  # by fault_group
    answer_share: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemSummary:
    """All metrics of one system combined over ``seeds``, overall and per job class;
    ``answer_share`` holds steps 1..the largest step that answered a job in any seed."""

    system: str
    seeds: tuple[int, ...]
    metrics: dict[str, Interval]
    classes: dict[str, dict[str, Interval]]
    faults: dict[str, dict[str, Interval]] = field(default_factory=dict)  # empty: no faults
    answer_share: dict[int, Interval] = field(default_factory=dict)


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


def check_mk(mk: tuple[int, int]) -> tuple[int, int]:
    """``mk`` as ``(m, k)`` ints, if ``0 <= m <= k`` and ``k >= 1``; else ValueError."""
    m, k = mk
    if not (isinstance(m, int) and isinstance(k, int) and 0 <= m <= k and k >= 1):
        raise ValueError(f"mk: expected (m, k) with 0 <= m <= k and k >= 1, got {mk!r}")
    return m, k


def longest_miss_run(hits: Sequence[bool]) -> int:
    """The longest run of consecutive misses (``False``) in ``hits``; 0 for none."""
    longest = run = 0
    for hit in hits:
        run = 0 if hit else run + 1
        longest = max(longest, run)
    return longest


def mk_violation_share(hits: Sequence[bool], mk: tuple[int, int] = MK) -> float | None:
    """Share of the ``len(hits) - k + 1`` windows of ``k`` consecutive jobs that hold
    fewer than ``m`` hits; ``None`` with fewer than ``k`` jobs."""
    m, k = check_mk(mk)
    if len(hits) < k:
        return None
    ends = np.concatenate(([0], np.cumsum(np.asarray(hits, dtype=np.int64))))
    return float(np.mean(ends[k:] - ends[:-k] < m))


def hit_sequence(records: Iterable[JobRecord]) -> list[bool]:
    """``hit`` of each record in ``job_id`` (arrival) order."""
    return [r.hit for r in sorted(records, key=lambda r: r.job_id)]


def answer_share(records: Sequence[JobRecord]) -> dict[int, float]:
    """Share of the jobs whose emitted result is step s, for every step s >= 1 that
    answered one (sorted by step); empty for no records."""
    counts = Counter(r.result_stage for r in records if r.result_stage)
    return {s: counts[s] / len(records) for s in sorted(counts)}


def _quality_metrics(records: Sequence[JobRecord], quality_bar: float | None,
                     mk: tuple[int, int]) -> dict[str, float | None]:
    n = len(records)
    hits = hit_sequence(records)
    at_bar = (None if quality_bar is None
              else _ratio(sum(r.hit and r.quality >= quality_bar for r in records), n))
    return {
        "utility": _ratio(math.fsum(r.quality for r in records if r.hit), n),
        "hit_at_quality": at_bar,
        "answer_share_none": _ratio(sum(not r.result_stage for r in records), n),
        "mk_longest_miss_run": longest_miss_run(hits),
        "mk_violation_share": mk_violation_share(hits, mk),
    }


def _latency_metrics(records: Sequence[JobRecord]) -> dict[str, float | None]:
    first = [r.latency_first_s for r in records if r.first_result_s is not None]
    final = [r.latency_final_s for r in records if r.final_result_s is not None]
    out = {}
    for kind, values in (("first", first), ("final", final)):
        for p in PERCENTILES:
            out[f"latency_{kind}_p{p}_s"] = percentile(values, p)
    return out


def group_metrics(records: Sequence[JobRecord], idle_j: float | None = None, *,
                  quality_bar: float | None = None, mk: tuple[int, int] = MK
                  ) -> dict[str, float | None]:
    """Every metric of one group of records (one system, one seed, maybe one class).

    ``idle_j`` is the platform's static energy over the run (:func:`idle_energy`),
    ``None`` when unknown; it is added to the dynamic energy of the records.
    ``quality_bar`` is the least model accuracy a hit needs to count in
    ``hit_at_quality`` (``None``: that metric is ``None``); ``mk`` the (m, k) of the
    (m,k)-firm figures.
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
        **_quality_metrics(records, quality_bar, mk),
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


def _fault_metrics(records: list[JobRecord], **options) -> dict[str, dict[str, float | None]]:
    """Metrics per fault group; empty when no fault touched any job (a fault-free run)."""
    groups = _by(records, fault_group)
    if set(groups) <= {"none"}:
        return {}
    return {g: group_metrics(rs, **options) for g, rs in sorted(groups.items())}


def seed_summaries(records: Iterable[JobRecord], *, idle_w: float | None = None,
                   duration_s: float | None = None, systems: Sequence[str] = (),
                   seed: int | None = None, quality_bar: float | None = None,
                   mk: tuple[int, int] = MK) -> list[SeedSummary]:
    """One :class:`SeedSummary` per (system, seed) present in ``records``, in first-seen
    order. Idle energy (``idle_w`` × the time of the run the system's processor held no
    job) counts once per system and seed, in the overall metrics only (it belongs to no
    job class). A name in ``systems`` with no record in run ``seed`` still gets a
    summary: zero jobs, not an unknown. ``quality_bar`` and ``mk``: see
    :func:`group_metrics`."""
    options = {"quality_bar": quality_bar, "mk": check_mk(mk)}
    groups = _by(records, lambda r: (r.system, r.seed))
    for name in systems if seed is not None else ():
        groups.setdefault((name, seed), [])
    return [_seed_summary(system, seed_, group, idle_energy(group, idle_w, duration_s), options)
            for (system, seed_), group in groups.items()]


def _seed_summary(system: str, seed: int, group: list[JobRecord], idle_j: float | None,
                  options: dict) -> SeedSummary:
    classes = {c: group_metrics(rs, **options)
               for c, rs in _by(group, lambda r: r.job_class).items()}
    return SeedSummary(system=system, seed=seed, metrics=group_metrics(group, idle_j, **options),
                       classes=classes, faults=_fault_metrics(group, **options),
                       answer_share=answer_share(group))


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
        faults={g: _combine_dicts([_fault_or_empty(s, g) for s in per_seed]) for g in faults},
        answer_share=_combine_answers(per_seed))


def _combine_answers(per_seed: list[SeedSummary | None]) -> dict[int, Interval]:
    """Share per step 1..the largest step seen; a step that answered nothing in a seed with
    jobs had share 0 there, a seed without jobs (or without the system) is undefined."""
    last = max((k for s in per_seed if s for k in s.answer_share), default=0)
    defined = [s if s and s.metrics["jobs"] else None for s in per_seed]
    return {k: interval([None if s is None else s.answer_share.get(k, 0.0) for s in defined])
            for k in range(1, last + 1)}


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
              seeds: Sequence[int] | None = None, quality_bar: float | None = None,
              mk: tuple[int, int] = MK) -> dict[str, SystemSummary]:
    """Records of any number of systems and seeds -> one :class:`SystemSummary` each."""
    return combine(seed_summaries(records, idle_w=idle_w, duration_s=duration_s,
                                  quality_bar=quality_bar, mk=mk),
                   systems=systems, seeds=seeds)


def difference(a: Interval, b: Interval) -> Interval:
    """The paired difference ``a - b``: :func:`interval` of the per-seed differences over
    the seeds where both are defined (``a`` and ``b`` list the same seeds)."""
    if len(a.values) != len(b.values):
        raise ValueError(f"paired values need the same seeds: {len(a.values)} and {len(b.values)}")
    return interval([None if x is None or y is None else x - y
                     for x, y in zip(a.values, b.values)])


def paired(summaries: Mapping[str, SystemSummary], reference: str
           ) -> dict[str, dict[str, Interval]]:
    """For every system but ``reference`` and every metric of :data:`METRICS`, the paired
    difference (system - reference) over the seeds (:func:`difference`)."""
    if reference not in summaries:
        raise ValueError(f"reference {reference!r} is not one of the systems {list(summaries)}")
    ref = summaries[reference]
    for name, s in summaries.items():
        if s.seeds != ref.seeds:
            raise ValueError(f"{name} and {reference} were not run over the same seeds")
    return {name: {m: difference(s.metrics[m], ref.metrics[m]) for m in METRICS}
            for name, s in summaries.items() if name != reference}


def sign(diff: Interval) -> int:
    """+1 or -1 when the 95 % interval of a paired difference excludes 0 (a real
    difference), 0 when it contains 0 or there is none (one seed): no difference."""
    if diff.ci is None:
        return 0
    return 1 if diff.ci[0] > 0 else -1 if diff.ci[1] < 0 else 0


def final_latencies(records: Iterable[JobRecord]) -> dict[str, list[float]]:
    """Latency to the emitted result of every job that has one, per system (for CDFs)."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.final_result_s is not None:
            out.setdefault(r.system, []).append(r.latency_final_s)
    return out


def combine_tasks(per_seed: Sequence[Mapping[str, Mapping[str, dict]]]) -> dict[str, dict]:
    """The non-DNN tasks of a task-set run (issue 20) over seeds: ``per_seed`` holds one
    ``{system: {task: {worst_response_ms, rta_bound_ms, deadline_misses, jobs}}}`` per
    seed. Per task: the worst response over every system and seed, the RTA bound valid for
    all systems (the largest; None when one has none), misses and jobs summed, and the
    same per system under ``systems``."""
    out: dict[str, dict] = {}
    for run in per_seed:
        for system, tasks in run.items():
            for name, t in tasks.items():
                task = out.setdefault(name, {"systems": {}})
                mine = task["systems"].setdefault(system, {
                    "worst_response_ms": None, "rta_bound_ms": t["rta_bound_ms"],
                    "deadline_misses": 0, "jobs": 0})
                if t["worst_response_ms"] is not None:
                    mine["worst_response_ms"] = max(mine["worst_response_ms"] or 0.0,
                                                    t["worst_response_ms"])
                mine["deadline_misses"] += t["deadline_misses"]
                mine["jobs"] += t["jobs"]
    for task in out.values():
        rows = list(task["systems"].values())
        worst = [r["worst_response_ms"] for r in rows if r["worst_response_ms"] is not None]
        bounds = [r["rta_bound_ms"] for r in rows]
        task.update(worst_response_ms=max(worst) if worst else None,
                    rta_bound_ms=None if None in bounds or not bounds else max(bounds),
                    deadline_misses=sum(r["deadline_misses"] for r in rows),
                    jobs=sum(r["jobs"] for r in rows))
        task["systems"] = task.pop("systems")  # after the totals, for reading
    return out
