"""What a report folder says, as data: the :class:`Report` bundle of results and its
``metrics.json`` form.

Sits between ``metrics`` (which computes) and ``writers`` / ``markdown`` (which render).
:func:`metrics_document` is pure and deterministic: the same runs give the same dict —
no wall-clock time goes into it (the run's wall time appears in ``report.md`` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..bundle import Manifest
from ..sim.records import StageEvent
from .metrics import CONFIDENCE, SystemSummary

FORMAT_VERSION = 1

Curve = Sequence[tuple[float, Mapping[str, SystemSummary]]]
"""A deadline sweep: (deadline in ms, summaries of every system at that deadline)."""


@dataclass(frozen=True)
class Report:
    """Everything a report folder is made from (all of it already computed)."""

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
    wall_s: float | None = None


def _system_doc(summary: SystemSummary, info: Mapping | None = None,
                classes: bool = True) -> dict:
    doc = dict(info or {})
    doc["metrics"] = {m: v.to_dict() for m, v in summary.metrics.items()}
    if classes:
        doc["classes"] = {c: {m: v.to_dict() for m, v in ms.items()}
                          for c, ms in summary.classes.items()}
    if classes and summary.faults:
        doc["faults"] = {g: {m: v.to_dict() for m, v in ms.items()}
                         for g, ms in summary.faults.items()}
    return doc


def metrics_document(report: Report) -> dict:
    """The ``metrics.json`` object (see the package docstring for its schema)."""
    return {
        "format_version": FORMAT_VERSION,
        "scenario": report.scenario,
        "scenario_file": report.scenario_file,
        "command": report.command,
        "seeds": list(report.seeds),
        "duration_s": report.duration_s,
        "confidence": CONFIDENCE,
        "systems": {n: _system_doc(s, report.systems_info.get(n))
                    for n, s in report.summaries.items()},
        "deadline_sweep": [
            {"deadline_ms": d, "systems": {n: _system_doc(s, classes=False)
                                           for n, s in summaries.items()}}
            for d, summaries in report.curve],
    }
