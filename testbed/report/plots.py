"""Figures of a report: each function takes plain data and returns a matplotlib Figure.

Reads combined metrics (:mod:`testbed.report.metrics`), stage events, a budget trace as
arrays, and bundle manifests; draws, and does nothing else — saving is the writers' job
(:mod:`testbed.report.writers`). Figures are built without ``pyplot`` (so no global
figure registry and no GUI backend: rendering is Agg, safe in workers and tests).

Every figure has a title, shows rates in percent, draws each system in its
:mod:`~testbed.report.style` (one colour and marker per system in every figure; bounds
``X@budget_oracle`` / ``X@oracle`` in ``X``'s colour, dashed or dotted with hollow markers
or hatched bars) and lists systems as given (scenario order), bounds after the real
systems. A curve equal to an earlier one is still drawn and its legend entry says
"identical to X"; an :class:`Interval` without a confidence interval (one seed) draws no
error bar or band.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..bundle import Manifest
from ..sim.records import StageEvent
from . import style
from .metrics import Interval, SystemSummary

WINDOW_S = 5.0
"""Longest stretch of a run the timeline zooms into: beyond that, bars become pixels."""

RATES = (("hit_rate", "deadline hit rate"), ("accuracy_at_deadline", "accuracy at deadline"))
ABORTED = "k"   # colour of aborted or abandoned stages; completed ones take the system's


def _figure(rows: int = 1, cols: int = 1, height: float = 3.2, width: float = 7.5, **kw):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def _pct(value: float | None) -> float:
    return np.nan if value is None else 100.0 * value


def _legend(fig: Figure, ax, title: str | None = None, below: bool = False) -> None:
    """One legend outside the axes (never over the data), in drawing order: beside a
    single panel, ``below`` a row of panels (whose figure title is on top)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        where = {"loc": "outside lower center", "ncols": 3} if below else \
            {"loc": "outside right upper"}
        fig.legend(handles, labels, fontsize="small", title=title, title_fontsize="small",
                   **where)


# -- timeline -----------------------------------------------------------------------------
def timeline(times: np.ndarray, budget: np.ndarray, events: Sequence[StageEvent],
             systems: Sequence[str], window: tuple[float, float], *,
             run_s: float | None = None) -> Figure:
    """Budget over the whole run (top, ``window`` shaded), then the budget zoomed into
    ``window`` and, per system, the stages it ran there: one bar per stage at height =
    stage index, in the system's colour, aborted or abandoned stages in black.

    ``(times, budget)`` are the trace's steps; the last step holds until ``run_s`` (the
    run's duration), default the later of the last step and the window's end."""
    t0, t1 = window
    end = max(run_s or 0.0, times[-1] if len(times) else 0.0, t1)
    ratios = [1.2, 1.0] + [0.8] * len(systems)
    fig, axes = _figure(len(ratios), 1, height=1.1 * sum(ratios) + 0.8,
                        gridspec_kw={"height_ratios": ratios})
    whole, zoom = axes[0, 0], axes[1, 0]
    _whole_run(whole, times, budget, end, window)
    _budget(zoom, times, budget, end)
    zoom.set_title(f"zoom: {t0:g}–{t1:g} s, budget and the stages each system ran")
    _stage_panels(axes[2:, 0], events, systems, window)
    for ax in axes[2:, 0]:
        ax.sharex(zoom)
    for ax in axes[1:-1, 0]:
        ax.tick_params(labelbottom=False)
    zoom.set_xlim(t0, t1)
    axes[-1, 0].set_xlabel("simulated time (s)")
    fig.suptitle("Budget and stages over time")
    return fig


def _whole_run(ax, times: np.ndarray, budget: np.ndarray, end: float,
               window: tuple[float, float]) -> None:
    _budget(ax, times, budget, end)
    ax.axvspan(*window, color="tab:orange", alpha=0.25, lw=0)
    ax.set(xlim=(0, end), title=f"budget over the whole run (0–{end:g} s; shaded: zoomed below)")


def _budget(ax, times: np.ndarray, budget: np.ndarray, end: float) -> None:
    last = budget[-1] if len(budget) else 0.0
    ax.step(np.append(times, end), 100.0 * np.append(budget, last), where="post",
            color="k", lw=1)
    ax.set_ylabel("budget\n(% of peak)")
    ax.set_ylim(bottom=0)


def _stage_panels(axes, events: Sequence[StageEvent], systems: Sequence[str],
                  window: tuple[float, float]) -> None:
    t0, t1 = window
    looks = style.styles(systems)
    for ax, name in zip(axes, systems):
        _stage_bars(ax, [e for e in events if e.system == name and e.end_s >= t0
                         and e.start_s <= t1], looks[name].color)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", color=looks[name].color)
    if len(axes) and axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2,
                       fontsize="small", frameon=False)   # above the panel, off the bars


def _stage_bars(ax, events: Sequence[StageEvent], color: str) -> None:
    for completed, c in ((True, color), (False, ABORTED)):
        sel = [e for e in events if e.completed == completed]
        if sel:
            ax.hlines([e.stage for e in sel], [e.start_s for e in sel], [e.end_s for e in sel],
                      color=c, lw=5, label="completed" if completed else "aborted or abandoned")
    top = max((e.stage for e in events), default=1)
    ax.set_ylim(0.3, top + 0.7)
    ax.set_yticks(range(1, top + 1))


# -- rates ----------------------------------------------------------------------------------
def rates(summaries: Mapping[str, SystemSummary]) -> Figure:
    """Deadline hit rate and accuracy at deadline per system, as horizontal bars (one
    row per system, so any number of names stays legible) with 95 % intervals; bounds
    are hatched bars in their system's colour, below the real systems."""
    names = style.order(summaries)
    looks = style.styles(names)
    fig, axes = _figure(1, 2, height=1.4 + 0.32 * len(names), width=9.0, sharey=True)
    for ax, (metric, title) in zip(axes[0], RATES):
        for i, name in enumerate(names):
            _bar(ax, i, summaries[name].metrics[metric], looks[name])
        ax.set(title=title, xlim=(0, 105), xlabel="% of jobs")
        ax.grid(axis="x", alpha=0.3)
        _bounds_divider(ax, names)
    axes[0, 0].set_yticks(range(len(names)), names)
    axes[0, 0].set_ylim(len(names) - 0.5, -0.5)      # first system on top
    _hatch_key(fig, names)
    fig.suptitle("Deadline hit rate and accuracy at deadline (mean over seeds, 95 % interval)")
    return fig


def _hatch_key(fig: Figure, names: Sequence[str]) -> None:
    """A legend of the hatches that mark bounds (the bars' labels name the systems)."""
    kinds = dict.fromkeys(style.split(n)[1] for n in names if style.is_bound(n))
    handles = [Patch(facecolor="white", edgecolor="k", hatch=style.BOUNDS[k][1],
                     label=f"bound: {k}") for k in kinds]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   fontsize="small")


def _bar(ax, y: int, value: Interval, look: style.Style) -> None:
    ax.barh(y, 0.0 if value.mean is None else 100 * value.mean, 0.7, **look.bar())
    if value.ci is not None:
        err = [[100 * (value.mean - value.ci[0])], [100 * (value.ci[1] - value.mean)]]
        ax.errorbar([100 * value.mean], [y], xerr=err, fmt="none", ecolor="k", capsize=3,
                    lw=1)


def _bounds_divider(ax, names: Sequence[str]) -> None:
    real = sum(not style.is_bound(n) for n in names)
    if 0 < real < len(names):
        ax.axhline(real - 0.5, color="grey", lw=0.8, ls="--")


# -- profiles -----------------------------------------------------------------------------
def profiles(manifests: Mapping[str, Manifest]) -> Figure:
    """Accuracy of subnet k against the MACs needed to reach it, as % of the original
    network's MACs (stages 1..k when incremental, subnet k alone otherwise). A bound
    has its system's bundle, hence its curve: it is left out and named in the legend."""
    fig, axes = _figure(height=3.6, width=8.5)
    ax = axes[0, 0]
    shown = {n: m for n, m in manifests.items() if m.original_macs > 0}
    data = {n: _profile(m) for n, m in shown.items()}
    same = style.twins(data)
    looks = style.styles(shown)
    skipped = [n for n, t in same.items() if style.is_bound(n) and style.split(n)[0] == t]
    for name, m in shown.items():
        if name in skipped:
            continue
        kw = looks[name].line()
        ax.plot(*data[name], label=style.label(_profile_label(name, m), same.get(name)), **kw)
        ax.plot([100.0], [100 * m.original_accuracy], marker="*", ms=10, color=kw["color"])
    ax.set(xlabel="MACs to reach subnet k (% of original network)", ylabel="accuracy (%)")
    ax.grid(alpha=0.3)
    note = "★ original network" + ("\nbounds: as their system" if skipped else "")
    _legend(fig, ax, title=note)
    ax.set_title("Accuracy of each subnet against its cost")
    return fig


def _profile(m: Manifest) -> np.ndarray:
    ks = range(1, m.num_stages + 1)
    return np.array([[100.0 * m.cost_to_reach(k) / m.original_macs for k in ks],
                     [100.0 * s.accuracy for s in m.stages]])


def _profile_label(name: str, m: Manifest) -> str:
    return name if m.method in name else f"{name} ({m.method})"


# -- latency ------------------------------------------------------------------------------
def latency_cdf(latencies_s: Mapping[str, Sequence[float]],
                deadlines_ms: Sequence[float] = ()) -> Figure:
    """Empirical CDF of the latency to the emitted result, over jobs that have one;
    dashed grey lines mark the workload's deadlines. Markers sit at staggered points of
    each curve, so curves that coincide still show each system's markers."""
    fig, axes = _figure(height=3.8, width=10.0)
    ax = axes[0, 0]
    names = style.order(latencies_s)
    looks = style.styles(names)
    data = {n: np.sort(np.asarray(latencies_s[n], dtype=float)) * 1e3
            for n in names if len(latencies_s[n])}
    same = style.twins(data)
    for i, (name, xs) in enumerate(data.items()):
        every = max(1, len(xs) // 6)
        ax.step(xs, 100.0 * np.arange(1, len(xs) + 1) / len(xs), where="post",
                markevery=((i * every // max(len(data), 1)) % every, every),
                label=style.label(name, same.get(name)), **looks[name].line())
    for d in deadlines_ms:
        ax.axvline(d, color="grey", ls="--", lw=1)
    ax.set(xlabel="latency to emitted result (ms)", ylabel="% of jobs with a result",
           ylim=(0, 102))
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    ax.set_title("Latency to the emitted result (CDF)")
    return fig


# -- deadline sweep -------------------------------------------------------------------------
def deadline_curve(curve: Sequence[tuple[float, Mapping[str, SystemSummary]]]) -> Figure:
    """Hit rate and accuracy at deadline against the workload deadline, per system,
    with the 95 % interval over seeds as a band (none with one seed)."""
    names = style.order(n for _, s in curve for n in s)
    fig, axes = _figure(1, 2, height=3.4 + 0.2 * -(-len(names) // 3), width=10.0, sharey=True)
    xs = np.array([d for d, _ in curve], dtype=float)
    looks = style.styles(names)
    vals = {n: {m: [s[n].metrics[m] if n in s else Interval(None, None, 0, ())
                    for _, s in curve] for m, _ in RATES} for n in names}
    same = style.twins({n: [[_pct(v.mean) for v in vs] for vs in by.values()]
                        for n, by in vals.items()})
    for ax, (metric, title) in zip(axes[0], RATES):
        for name in names:
            _curve(ax, xs, vals[name][metric], style.label(name, same.get(name)), looks[name])
        ax.set(title=title, xlabel="deadline (ms)")
        ax.grid(alpha=0.3)
    axes[0, 0].set(ylim=(0, 102), ylabel="% of jobs")
    _legend(fig, axes[0, 0], below=True)
    fig.suptitle("Hit rate and accuracy against the deadline (95 % interval over seeds)")
    return fig


def _curve(ax, xs: np.ndarray, vals: Sequence[Interval], label: str,
           look: style.Style) -> None:
    ax.plot(xs, [_pct(v.mean) for v in vals], label=label, **look.line())
    if any(v.ci is not None for v in vals):
        lo = [np.nan if v.ci is None else 100 * v.ci[0] for v in vals]
        hi = [np.nan if v.ci is None else 100 * v.ci[1] for v in vals]
        ax.fill_between(xs, lo, hi, color=look.color, alpha=0.15, lw=0)
