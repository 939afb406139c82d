"""The sweep's table and report: ``rows.csv`` (every row of ``rows.jsonl`` in point
order), ``summary.json`` and ``report.md`` with hit rate and accuracy at deadline (in %,
like run reports) against the deadline and against the mean budget, per system, with 95%
intervals over seeds (and over any other swept parameter that the plot does not show).

Pure aggregation (:func:`curve`) and drawing (:func:`figure`, a matplotlib Figure without
``pyplot``) are separate from writing. Systems are listed and drawn in the base scenario's
order (real systems, then bounds), each in its :mod:`testbed.report.style`. Against the
deadline, points are joined in deadline order with a band for the interval; against the
mean budget (a value measured per run, not a swept one) points are not joined.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..errors import TestbedError
from ..report import style
from ..report.metrics import interval
from ..report.table import cell, difference_cell, percent

FIXED = ("point", "point_key", "system", "seed", "deadline_ms", "mean_budget")
TABLE_NOTE = ("Hit rate and accuracy at deadline in % of jobs: mean ±half-width of the 95% "
              "interval over the n rows (seeds) at that deadline; no interval from one row.")
METRICS = (("hit_rate", "deadline hit rate"), ("accuracy_at_deadline", "accuracy at deadline"))


def columns(rows: list[dict]) -> list[str]:
    extra = dict.fromkeys(k for r in rows for k in r if k not in FIXED)
    return list(FIXED) + list(extra)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def rows_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def curve(rows: list[dict], x: str, metric: str) -> dict[str, list[tuple[float, object]]]:
    """Per system: sorted ``(x value, Interval of metric over every row at that x)``."""
    groups: dict[str, dict[float, list]] = {}
    for r in rows:
        groups.setdefault(r["system"], {}).setdefault(r[x], []).append(r.get(metric))
    return {s: [(xv, interval(vals)) for xv, vals in sorted(by_x.items())]
            for s, by_x in groups.items()}


def system_order(rows: list[dict], scenario_systems: list[str] = ()) -> list[str]:
    """The rows' systems in ``scenario_systems`` order (others after, as they come),
    real systems first, bounds after."""
    present = dict.fromkeys(r["system"] for r in rows)
    known = [n for n in scenario_systems if n in present]
    return style.order(known + [n for n in present if n not in known])


def paired(rows: list[dict], grid: list[str], reference: str, metric: str
           ) -> dict[tuple, dict[str, object]]:
    """Per setting (a grid point without its seed) and system other than ``reference``:
    the :class:`Interval` of the per-seed difference ``system - reference`` of ``metric``
    (systems of one point see the same frames and trace, so the difference is paired)."""
    keys = [k for k in grid if k != "seed"]
    values: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        setting = tuple(r.get(k) for k in keys)
        values.setdefault(setting, {}).setdefault(r["system"], {})[r.get("seed")] = r.get(metric)
    out: dict[tuple, dict[str, object]] = {}
    for setting, systems in sorted(values.items(), key=lambda kv: _sortable(kv[0])):
        ref = systems.get(reference, {})
        out[setting] = {
            name: interval([v - ref[seed] for seed, v in by_seed.items()
                            if v is not None and ref.get(seed) is not None])
            for name, by_seed in systems.items() if name != reference}
    return out


def _sortable(setting: tuple) -> list:
    return [(0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in setting]


def _paired_table(rows: list[dict], grid: list[str], reference: str, names: list[str]
                  ) -> list[str]:
    keys = [k for k in grid if k != "seed"]
    acc = paired(rows, grid, reference, "accuracy_at_deadline")
    hit = paired(rows, grid, reference, "hit_rate")
    lines = [f"| {' / '.join(f'`{k}`' for k in keys) or 'setting'} | system | "
             "hit rate | accuracy at deadline |", "|---|---|---|---|"]
    for setting, systems in acc.items():
        for name in names:
            if name in systems:
                lines.append(f"| {' / '.join(_num(v) for v in setting)} | {name} | "
                             f"{difference_cell(hit[setting][name])} | "
                             f"{difference_cell(systems[name])} |")
    return lines


def base_systems(base: Path) -> tuple[list[str], str | None]:
    """System names of the base scenario in its order (bounds included) and its
    ``reference``; none if it no longer loads (the rows' own order is used then)."""
    from ..scenario import load_scenario
    try:
        scenario = load_scenario(base)
    except TestbedError:
        return [], None
    return [s.name for s in scenario.systems], scenario.reference or None


def figure(rows: list[dict], x: str, xlabel: str, names: list[str], title: str,
           join: bool = True, x_scale: float = 1.0) -> Figure:
    """Hit rate and accuracy at deadline (%) against ``x`` (times ``x_scale``), one line
    in x order (``join``) or unjoined points per system; intervals only from several rows."""
    fig = Figure(figsize=(10, 3.6 + 0.2 * -(-len(names) // 3)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    curves = {m: curve(rows, x, m) for m, _ in METRICS}
    same = style.twins({n: [[_pct(iv.mean) for _, iv in curves[m].get(n, [])]
                            for m, _ in METRICS] for n in names})
    looks = style.styles(names)
    for ax, (metric, label) in zip(axes, METRICS):
        for name in names:
            points = [(x_scale * xv, iv) for xv, iv in curves[metric].get(name, [])]
            _draw(ax, points, style.label(name, same.get(name)), looks[name], join)
        ax.set(title=label, xlabel=xlabel, ylim=(-2, 102))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% of jobs")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle(title)
    return fig


def _draw(ax, points: list, label: str, look: style.Style, join: bool) -> None:
    xs = np.array([p[0] for p in points], dtype=float)
    ivs = [p[1] for p in points]
    ys = np.array([_pct(iv.mean) for iv in ivs])
    kw = look.line() | ({} if join else {"linestyle": "none"})
    ax.plot(xs, ys, label=label, **kw)
    if not any(iv.ci is not None for iv in ivs):
        return
    lo = np.array([np.nan if iv.ci is None else 100 * iv.ci[0] for iv in ivs])
    hi = np.array([np.nan if iv.ci is None else 100 * iv.ci[1] for iv in ivs])
    if join:
        ax.fill_between(xs, lo, hi, color=look.color, alpha=0.15, lw=0)
    else:
        ax.errorbar(xs, ys, yerr=[ys - lo, hi - ys], fmt="none", ecolor=look.color,
                    capsize=2, lw=0.8)


def _pct(value: float | None) -> float:
    return np.nan if value is None else 100.0 * value


def _save(fig: Figure, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def _table(rows: list[dict], x: str, xlabel: str, names: list[str]) -> list[str]:
    hits, accs = curve(rows, x, "hit_rate"), curve(rows, x, "accuracy_at_deadline")
    lines = [f"| system | {xlabel} | hit rate | accuracy at deadline | n |", "|---|---|---|---|---|"]
    for system in names:
        for (xv, h), (_, a) in zip(hits[system], accs[system]):
            lines.append(f"| {system} | {_num(xv)} | {cell(h, percent)} | {cell(a, percent)} "
                         f"| {h.n} |")
    return lines


def _num(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def write_report(out: Path, spec, rows: list[dict], failures: list[dict], command: str) -> None:
    write_atomic(out / "rows.csv", rows_csv(rows))
    systems, reference = base_systems(spec.base)
    names = system_order(rows, systems) if rows else []
    if rows:
        _write_figures(out, spec.name, rows, names)
    summary = {"sweep": spec.name, "base": spec.base.name,
               "grid": {k: list(v) for k, v in spec.grid.items()},
               "points": len(spec.points()), "rows": len(rows), "failures": failures}
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    write_atomic(out / "report.md",
                 "\n".join(_markdown(spec, rows, failures, command, names, reference)))


def _write_figures(out: Path, sweep: str, rows: list[dict], names: list[str]) -> None:
    _save(figure(rows, "deadline_ms", "deadline (ms)", names,
                 f"Sweep {sweep}: against the deadline"), out / "vs_deadline.png")
    _save(figure(rows, "mean_budget", "mean budget of the run (% of peak)", names,
                 f"Sweep {sweep}: against the mean budget", join=False, x_scale=100.0),
          out / "vs_budget.png")


def _markdown(spec, rows: list[dict], failures: list[dict], command: str,
              names: list[str], reference: str | None = None) -> list[str]:
    lines = [f"# Sweep `{spec.name}`", "", f"Base scenario: `{spec.base.name}`; "
             f"{len(spec.points())} grid points; command: `{command}`.", "",
             "Grid: " + "; ".join(f"`{k}` = {list(v)}" for k, v in spec.grid.items()), ""]
    if failures:
        lines += [f"**{len(failures)} point(s) failed** (see failures.jsonl):", ""]
        lines += [f"- point {f['point']} {f['params']}: {f['error']}" for f in failures] + [""]
    if rows:
        lines += ["## Against the deadline", "", "![](vs_deadline.png)", ""]
        lines += [TABLE_NOTE, ""] + _table(rows, "deadline_ms", "deadline (ms)", names) + [""]
        if reference and any(r["system"] == reference for r in rows):
            lines += [f"## Paired differences to {reference}", "",
                      f"Per grid setting, system − {reference} seed by seed (the same frames "
                      "and budget trace), in points, with its 95% interval; **no difference** "
                      "when the interval contains 0 or there is one seed.", ""]
            lines += _paired_table(rows, list(spec.grid), reference, names) + [""]
        lines += ["## Against the mean budget", "", "![](vs_budget.png)", "",
                  "Each point is one run; intervals are 95% over the rows sharing a value.", ""]
    return lines
