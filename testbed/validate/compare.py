"""Simulated against real records: the figures of ``validation.json``.

Pure functions over the :class:`~testbed.sim.records.JobRecord`s of the simulator and of
the real execution (:mod:`testbed.validate.executor`) of the same frames: each side's
hit rate, accuracy at deadline, mean steps and latency percentiles (the report's own
metric definitions, :func:`testbed.report.metrics.group_metrics`), their differences,
and the per-job agreement (the share of jobs that completed the same steps in both).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..report.metrics import group_metrics
from ..sim.records import JobRecord

FIELDS = ("hit_rate", "accuracy_at_deadline", "mean_steps", "p50_ms", "p95_ms")
TARGET_POINTS = 2.0     # |sim - real| of hit rate and accuracy at deadline, in points
TARGET_AGREEMENT = 0.9  # share of jobs with the same steps in both


def side(records: Sequence[JobRecord]) -> dict[str, float | None]:
    """One side's figures (latencies: to the emitted result, in ms)."""
    m = group_metrics(records)
    return {"hit_rate": m["hit_rate"], "accuracy_at_deadline": m["accuracy_at_deadline"],
            "mean_steps": m["mean_stages"], "p50_ms": _ms(m["latency_final_p50_s"]),
            "p95_ms": _ms(m["latency_final_p95_s"]), "jobs": m["jobs"]}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def same_steps(a: JobRecord, b: JobRecord) -> bool:
    """Both completed the same steps: as many, ending with the same result."""
    return a.stages_done == b.stages_done and a.result_stage == b.result_stage


def agreement(sim: Sequence[JobRecord], real: Sequence[JobRecord]) -> float | None:
    """Share of jobs (matched by job id) that completed the same steps in both."""
    by_id = {r.job_id: r for r in real}
    pairs = [(s, by_id[s.job_id]) for s in sim if s.job_id in by_id]
    return sum(same_steps(s, r) for s, r in pairs) / len(pairs) if pairs else None


def difference(sim: dict, real: dict) -> dict[str, float | None]:
    """real - sim per field (rates in points, i.e. x100)."""
    out = {}
    for key in FIELDS:
        a, b = sim.get(key), real.get(key)
        scale = 100.0 if key in ("hit_rate", "accuracy_at_deadline") else 1.0
        out[key] = None if a is None or b is None else (b - a) * scale
    return out


def compare(sim: Sequence[JobRecord], real: Sequence[JobRecord]) -> dict:
    """``{sim, real, difference, agreement, steps_confusion, met}`` of one system."""
    a, b = side(sim), side(real)
    diff = difference(a, b)
    agree = agreement(sim, real)
    met = (agree is not None and agree >= TARGET_AGREEMENT
           and all(diff[k] is not None and abs(diff[k]) <= TARGET_POINTS
                   for k in ("hit_rate", "accuracy_at_deadline")))
    return {"sim": a, "real": b, "difference": diff, "agreement": agree,
            "steps_confusion": confusion(sim, real), "met": met}


def confusion(sim: Sequence[JobRecord], real: Sequence[JobRecord]) -> list[list[int]]:
    """``[i][j]``: jobs with result step i in simulation and j for real (0: none)."""
    steps = max([r.result_stage for r in (*sim, *real)], default=0)
    table = np.zeros((steps + 1, steps + 1), dtype=int)
    by_id = {r.job_id: r for r in real}
    for s in sim:
        if s.job_id in by_id:
            table[s.result_stage, by_id[s.job_id].result_stage] += 1
    return table.tolist()


def step_costs(samples, work_s: Sequence[float]) -> list[dict]:
    """Per step: the cost model's time at full budget against the work the platform
    served while the step ran (measured, in ms at full budget), and how much of the step's
    span passed before its graph was called (the executor's own Python, µs of wall time)."""
    rows = []
    for k, model in enumerate(work_s, 1):
        mine = [s for s in samples if s.step == k and np.isfinite(s.served_s)]
        served = [s.served_s * 1e3 for s in mine]
        before = [s.before_s * 1e6 for s in mine]
        rows.append({"step": k, "model_ms": model * 1e3, "runs": len(served),
                     "measured_median_ms": float(np.median(served)) if served else None,
                     "measured_p95_ms": float(np.percentile(served, 95)) if served else None,
                     "before_median_us": float(np.median(before)) if before else None})
    return rows
