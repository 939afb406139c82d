"""Reports: the last step of the pipeline, from simulator records to a report folder.

``metrics`` (pure functions over :class:`~testbed.sim.records.JobRecord` lists),
``table`` (terminal / Markdown tables), ``plots`` (figures only), ``style`` (one colour and
marker per system in every figure), ``document`` (the
``metrics.json`` object), ``markdown`` (``report.md``) and ``writers`` (the atomic
folder, ``jobs.csv``). Imports neither torch nor onnxruntime.

A report folder holds ``metrics.json``, ``jobs.csv``, ``trace.csv``, ``report.md`` and
PNG figures. ``metrics.json``::

    {"format_version": 1, "scenario": str, "scenario_file": str, "command": str,
     "seeds": [int], "duration_s": float, "confidence": 0.95,
     "reference": NAME, "objective": str, "quality_bar": float, "mk": [m, k],
     "systems": {NAME: {"bundle": str, "method": str, "policy": str, "policy_params": {},
                        "tuning": {...},                 # tuned systems (testbed.tuning)
                        "bound": str, "bound_of": NAME,  # oracle systems
                        "metrics": {METRIC: INTERVAL},
                        "paired": {METRIC: {"mean", "ci95", "n"}},  # not the reference
                        "answer_share": {STEP: INTERVAL},
                        "classes": {JOB_CLASS: {METRIC: INTERVAL}},
                        "faults": {FAULT_GROUP: {METRIC: INTERVAL}}}},  # runs with faults
     "deadline_sweep": [{"deadline_ms": float,
                         "systems": {NAME: {"metrics": {METRIC: INTERVAL}}}}]}

    INTERVAL = {"mean": float|null, "ci95": [low, high]|null, "n": int,
                "per_seed": [float|null, ...]}   # aligned with "seeds"

METRIC is one of :data:`testbed.report.metrics.METRICS`. ``mean`` averages the seeds
where the metric is defined (``n`` of them); ``ci95`` is a Student-t interval, null
with fewer than two such seeds.
"""

from .metrics import METRICS, Interval, SeedSummary, SystemSummary, combine, summarize

__all__ = ["METRICS", "Interval", "SeedSummary", "SystemSummary", "combine", "summarize"]
