"""Figures of a report: each function takes plain data and returns a matplotlib Figure.

Reads combined metrics (:mod:`testbed.report.metrics`), stage events, a budget trace as
arrays, and bundle manifests; draws, and does nothing else — saving is the writers' job
(:mod:`testbed.report.writers`). Figures are built without ``pyplot`` (so no global
figure registry and no GUI backend: rendering is Agg, safe in workers and tests).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..bundle import Manifest
from ..sim.records import StageEvent
from .metrics import Interval, SystemSummary

WINDOW_S = 5.0
"""Longest stretch of a run the timeline shows: beyond that, bars become pixels."""


def _figure(rows: int = 1, cols: int = 1, height: float = 3.2, **kw):
    fig = Figure(figsize=(7.5, height * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def _yerr(values: Sequence[Interval]) -> np.ndarray:
    """Asymmetric error bars (zero where there is no interval)."""
    lo = [0.0 if v.ci is None else v.mean - v.ci[0] for v in values]
    hi = [0.0 if v.ci is None else v.ci[1] - v.mean for v in values]
    return np.array([lo, hi])


def timeline(times: np.ndarray, budget: np.ndarray, events: Sequence[StageEvent],
             systems: Sequence[str], window: tuple[float, float]) -> Figure:
    """Budget over time (top) and, per system, the stages it ran in ``window``:
    one bar per stage at height = stage index; aborted or abandoned stages in red."""
    t0, t1 = window
    fig, axes = _figure(1 + len(systems), 1, height=1.6, sharex=True)
    ax = axes[0, 0]
    ax.step(np.append(times, t1), np.append(budget, budget[-1] if len(budget) else 0),
            where="post", color="k", lw=1)
    ax.set_ylabel("budget")
    ax.set_ylim(bottom=0)
    for ax, name in zip(axes[1:, 0], systems):
        _stage_bars(ax, [e for e in events if e.system == name and e.end_s >= t0
                         and e.start_s <= t1])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    if len(systems) and axes[1, 0].get_legend_handles_labels()[0]:
        axes[1, 0].legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlim(t0, t1)
    axes[-1, 0].set_xlabel("simulated time (s)")
    return fig


def _stage_bars(ax, events: Sequence[StageEvent]) -> None:
    for completed, color in ((True, "tab:blue"), (False, "tab:red")):
        sel = [e for e in events if e.completed == completed]
        if sel:
            ax.hlines([e.stage for e in sel], [e.start_s for e in sel], [e.end_s for e in sel],
                      color=color, lw=5, label="completed" if completed else "aborted")
    top = max((e.stage for e in events), default=1)
    ax.set_ylim(0.3, top + 0.7)
    ax.set_yticks(range(1, top + 1))


def rates(summaries: Mapping[str, SystemSummary]) -> Figure:
    """Deadline hit rate and accuracy at deadline per system, with 95 % intervals."""
    fig, axes = _figure(height=3.4)
    ax = axes[0, 0]
    x = np.arange(len(summaries))
    for i, (metric, label) in enumerate((("hit_rate", "deadline hit rate"),
                                         ("accuracy_at_deadline", "accuracy at deadline"))):
        vals = [s.metrics[metric] for s in summaries.values()]
        ax.bar(x + (i - 0.5) * 0.38, [v.mean or 0.0 for v in vals], 0.36, yerr=_yerr(vals),
               capsize=4, label=label)
    ax.set_xticks(x, list(summaries))
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("fraction of jobs")
    ax.legend(loc="upper center", ncols=2)
    return fig


def profiles(manifests: Mapping[str, Manifest]) -> Figure:
    """Accuracy of subnet k against the MACs needed to reach it, as % of the original
    network's MACs (stages 1..k when incremental, subnet k alone otherwise)."""
    fig, axes = _figure(height=3.6)
    ax = axes[0, 0]
    for label, m in manifests.items():
        if m.original_macs <= 0:
            continue
        ks = range(1, m.num_stages + 1)
        x = [100.0 * m.cost_to_reach(k) / m.original_macs for k in ks]
        line, = ax.plot(x, [s.accuracy for s in m.stages], marker="o", label=f"{label} ({m.method})")
        ax.plot([100.0], [m.original_accuracy], marker="*", ms=10, color=line.get_color())
    ax.set_xlabel("MACs to reach subnet k (% of original network)")
    ax.set_ylabel("accuracy")
    ax.legend(title="★ original network", fontsize="small")
    return fig


def latency_cdf(latencies_s: Mapping[str, Sequence[float]],
                deadlines_ms: Sequence[float] = ()) -> Figure:
    """Empirical CDF of the latency to the emitted result, over jobs that have one;
    dashed lines mark the workload's deadlines."""
    fig, axes = _figure(height=3.4)
    ax = axes[0, 0]
    for name, values in latencies_s.items():
        if len(values):
            xs = np.sort(np.asarray(values, dtype=float)) * 1e3
            ax.step(xs, np.arange(1, len(xs) + 1) / len(xs), where="post", label=name)
    for d in deadlines_ms:
        ax.axvline(d, color="grey", ls="--", lw=1)
    ax.set_xlabel("latency to emitted result (ms)")
    ax.set_ylabel("fraction of jobs with a result")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")
    return fig


def deadline_curve(curve: Sequence[tuple[float, Mapping[str, SystemSummary]]]) -> Figure:
    """Hit rate and accuracy at deadline against the workload deadline, per system,
    with the 95 % interval over seeds as a band."""
    fig, axes = _figure(1, 2, height=3.4, sharey=True)
    xs = np.array([d for d, _ in curve], dtype=float)
    systems = list(dict.fromkeys(n for _, s in curve for n in s))
    for ax, (metric, title) in zip(axes[0], (("hit_rate", "deadline hit rate"),
                                             ("accuracy_at_deadline", "accuracy at deadline"))):
        for name in systems:
            vals = [s[name].metrics[metric] if name in s else Interval(None, None, 0, ())
                    for _, s in curve]
            _curve(ax, xs, vals, name)
        ax.set_title(title)
        ax.set_xlabel("deadline (ms)")
    axes[0, 0].set_ylim(0, 1.05)
    axes[0, 0].set_ylabel("fraction of jobs")
    axes[0, 1].legend(fontsize="small")
    return fig


def _curve(ax, xs: np.ndarray, vals: Sequence[Interval], label: str) -> None:
    mean = np.array([np.nan if v.mean is None else v.mean for v in vals])
    line, = ax.plot(xs, mean, marker="o", label=label)
    if any(v.ci is not None for v in vals):
        lo = np.array([np.nan if v.ci is None else v.ci[0] for v in vals])
        hi = np.array([np.nan if v.ci is None else v.ci[1] for v in vals])
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
