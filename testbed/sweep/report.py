"""The sweep's table and report: ``rows.csv`` (every row of ``rows.jsonl`` in point
order), ``summary.json`` and ``report.md`` with hit rate and accuracy at deadline against
the deadline and against the mean budget, per system, with 95% intervals over seeds (and
over any other swept parameter that the plot does not show).

Pure aggregation (:func:`curve`) is separate from writing and plotting.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..report.metrics import interval

FIXED = ("point", "point_key", "system", "seed", "deadline_ms", "mean_budget")


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


def _plot(rows: list[dict], x: str, xlabel: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric, label in zip(axes, ("hit_rate", "accuracy_at_deadline"),
                                 ("deadline hit rate", "accuracy at deadline")):
        for system, points in curve(rows, x, metric).items():
            xs = [p[0] for p in points]
            ys = [p[1].mean for p in points]
            lo = [p[1].ci[0] if p[1].ci else p[1].mean for p in points]
            hi = [p[1].ci[1] if p[1].ci else p[1].mean for p in points]
            ax.plot(xs, ys, marker="o", label=system)
            ax.fill_between(xs, lo, hi, alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _table(rows: list[dict], x: str, xlabel: str) -> list[str]:
    hits, accs = curve(rows, x, "hit_rate"), curve(rows, x, "accuracy_at_deadline")
    lines = [f"| system | {xlabel} | hit rate | accuracy at deadline | n |", "|---|---|---|---|---|"]
    for system in hits:
        for (xv, h), (_, a) in zip(hits[system], accs[system]):
            lines.append(f"| {system} | {_num(xv)} | {_iv(h)} | {_iv(a)} | {h.n} |")
    return lines


def _num(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _iv(iv) -> str:
    if iv.mean is None:
        return "-"
    if iv.ci is None:
        return f"{iv.mean:.3f}"
    return f"{iv.mean:.3f} [{iv.ci[0]:.3f}, {iv.ci[1]:.3f}]"


def write_report(out: Path, spec, rows: list[dict], failures: list[dict], command: str) -> None:
    write_atomic(out / "rows.csv", rows_csv(rows))
    if rows:
        _plot(rows, "deadline_ms", "deadline (ms)", out / "vs_deadline.png")
        _plot(rows, "mean_budget", "mean budget (fraction of peak)", out / "vs_budget.png")
    summary = {"sweep": spec.name, "base": spec.base.name, "grid": {k: list(v) for k, v in spec.grid.items()},
               "points": len(spec.points()), "rows": len(rows), "failures": failures}
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    lines = [f"# Sweep `{spec.name}`", "", f"Base scenario: `{spec.base.name}`; "
             f"{len(spec.points())} grid points; command: `{command}`.", "",
             "Grid: " + "; ".join(f"`{k}` = {list(v)}" for k, v in spec.grid.items()), ""]
    if failures:
        lines += [f"**{len(failures)} point(s) failed** (see failures.jsonl):", ""]
        lines += [f"- point {f['point']} {f['params']}: {f['error']}" for f in failures] + [""]
    if rows:
        lines += ["## Against the deadline", "", "![](vs_deadline.png)", ""]
        lines += _table(rows, "deadline_ms", "deadline (ms)") + [""]
        lines += ["## Against the mean budget", "", "![](vs_budget.png)", "",
                  "Each point is one run; intervals are 95% over the rows sharing a value.", ""]
    write_atomic(out / "report.md", "\n".join(lines))
