"""What a report folder says, as data: the :class:`Report` bundle of results and its
``metrics.json`` form.

Sits between ``metrics`` (which computes) and ``writers`` / ``markdown`` (which render).
:func:`metrics_document` is pure and deterministic: the same runs give the same dict —
no wall-clock time goes into it, nor into ``report.md`` (``Report.wall_s`` is for the
caller only). ``metrics.json``::

    {"format_version": 1, "scenario": str, "scenario_file": str, "command": str,
     "seeds": [int], "duration_s": float, "confidence": 0.95,
     "reference": NAME, "objective": str, "quality_bar": float|null, "mk": [m, k],
     "systems": {NAME: {"bundle": str, "method": str, "policy": str,   # when known
                        "policy_params": {...}, "tuning": {...}, "bound": str,
                        "step_ms": [float],   # each step's median at budget 1.0, overhead in
                        "metrics": {METRIC: INTERVAL},
                        "classes": {JOB_CLASS: {METRIC: INTERVAL}},
                        "faults": {FAULT_GROUP: {METRIC: INTERVAL}},  # runs with faults
                        "answer_share": {"1": INTERVAL, ..., "K": INTERVAL},
                        "paired": {METRIC: {"mean", "ci95", "n"}}}},   # not the reference
     "deadline_sweep": [{"deadline_ms": float,
                         "systems": {NAME: {"metrics": {METRIC: INTERVAL}}}}],
     "tasks": {TASK: {"worst_response_ms", "rta_bound_ms", "deadline_misses", "jobs",
                      "systems": {NAME: {...the same four}}}}}   # task-set budgets only

    INTERVAL = {"mean": float|null, "ci95": [low, high]|null, "n": int,
                "per_seed": [float|null, ...]}   # aligned with "seeds"

``paired.<metric>`` is the difference system − reference, seed by seed, over the ``n``
seeds where both are defined, with its Student-t interval (null with one such seed).
``answer_share.<s>``: share of jobs whose emitted result is step s (``answer_share_none``
in ``metrics``: no result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..bundle import Manifest
from ..errors import TestbedError
from ..sim.records import StageEvent
from .metrics import CONFIDENCE, MK, Interval, SystemSummary, paired

FORMAT_VERSION = 1
BOUND_POLICIES = ("oracle", "budget_oracle")
"""Policies that know what a real system cannot: their systems are upper bounds."""

Curve = Sequence[tuple[float, Mapping[str, SystemSummary]]]
"""A deadline sweep: (deadline in ms, summaries of every system at that deadline)."""


@dataclass(frozen=True)
class Report:
    """Everything a report folder is made from (all of it already computed).

    ``reference``: the system paired differences are taken against (``None``: the first);
    ``quality_bar`` and ``mk``: the definitions used for ``hit_at_quality`` and the
    (m,k)-firm figures; ``objective``: the metric tuning maximised."""

    scenario: str
    scenario_file: str
    command: str
    seeds: tuple[int, ...]
    duration_s: float
    summaries: Mapping[str, SystemSummary]
    description: str = ""
    systems_info: Mapping[str, dict] = field(default_factory=dict)   # bundle, method, policy
    curve: Curve = ()
    manifests: Mapping[str, Manifest] = field(default_factory=dict)  # per system
    latencies_s: Mapping[str, Sequence[float]] = field(default_factory=dict)
    workload_deadlines_ms: Sequence[float] = ()
    events: Sequence[StageEvent] = ()          # stage events of one seed, for the timeline
    events_seed: int | None = None
    budget: tuple[np.ndarray, np.ndarray] | None = None   # (times_s, budget) of that seed
    window: tuple[float, float] | None = None
    wall_s: float | None = None                # never written: reports are reproducible
    jobs_file: str | None = "jobs.csv"   # the jobs file in the folder (None: none written)
    jobs_note: str = "one row per job and system"
    reference: str | None = None
    quality_bar: float | None = None
    mk: tuple[int, int] = MK
    objective: str = "accuracy_at_deadline"
    tasks: Mapping[str, dict] = field(default_factory=dict)  # task sets: non-DNN tasks


def reference_of(report: Report) -> str | None:
    """The reference system: ``report.reference``, else the first system (``None``
    without systems)."""
    if report.reference is None:
        return next(iter(report.summaries), None)
    if report.reference not in report.summaries:
        raise TestbedError(f"reference: {report.reference!r} is not a system of this run "
                           f"(systems: {', '.join(report.summaries)})")
    return report.reference


def is_bound(info: Mapping | None) -> bool:
    """A system that is an upper bound, not a real system (it has a ``bound`` note or an
    oracle policy)."""
    info = info or {}
    return bool(info.get("bound")) or info.get("policy") in BOUND_POLICIES


def bounds_of(report: Report) -> tuple[str, ...]:
    """Names of the systems that are upper bounds, in report order."""
    return tuple(n for n in report.summaries if is_bound(report.systems_info.get(n)))


def paired_of(report: Report) -> dict[str, dict[str, Interval]]:
    """Paired differences of every system to the reference (empty without systems)."""
    ref = reference_of(report)
    return {} if ref is None else paired(report.summaries, ref)


def _paired_doc(diff: Interval) -> dict:
    return {"mean": diff.mean, "ci95": None if diff.ci is None else list(diff.ci), "n": diff.n}


def _intervals(named: Mapping) -> dict:
    return {str(k): v.to_dict() for k, v in named.items()}


def _system_doc(summary: SystemSummary, info: Mapping | None = None, classes: bool = True,
                diffs: Mapping[str, Interval] | None = None) -> dict:
    doc = dict(info or {})
    doc["metrics"] = _intervals(summary.metrics)
    if classes:
        doc["classes"] = {c: _intervals(ms) for c, ms in summary.classes.items()}
    if classes and summary.faults:
        doc["faults"] = {g: _intervals(ms) for g, ms in summary.faults.items()}
    if classes:
        doc["answer_share"] = _intervals(summary.answer_share)
    if diffs is not None:
        doc["paired"] = {m: _paired_doc(d) for m, d in diffs.items()}
    return doc


def metrics_document(report: Report) -> dict:
    """The ``metrics.json`` object (see the module docstring for its schema)."""
    diffs = paired_of(report)
    doc = {
        "format_version": FORMAT_VERSION,
        "scenario": report.scenario,
        "scenario_file": report.scenario_file,
        "command": report.command,
        "seeds": list(report.seeds),
        "duration_s": report.duration_s,
        "confidence": CONFIDENCE,
        "reference": reference_of(report),
        "objective": report.objective,
        "quality_bar": report.quality_bar,
        "mk": list(report.mk),
        "systems": {n: _system_doc(s, report.systems_info.get(n), diffs=diffs.get(n))
                    for n, s in report.summaries.items()},
        "deadline_sweep": [
            {"deadline_ms": d, "systems": {n: _system_doc(s, classes=False)
                                           for n, s in summaries.items()}}
            for d, summaries in report.curve],
    }
    if report.tasks:  # a task-set platform (issue 20)
        doc["tasks"] = {name: dict(t) for name, t in report.tasks.items()}
    return doc
