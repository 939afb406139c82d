"""Tables of combined metrics, as aligned terminal text or Markdown.

Reads :class:`~testbed.report.metrics.SystemSummary` objects (from ``metrics``) and
returns strings; ``testbed run`` prints the terminal form and ``report.md`` embeds the
Markdown form. A value with a confidence interval is shown as ``mean ±half-width``.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from .metrics import Interval, SystemSummary


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(digits: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}f}"


def _scaled(factor: float, digits: int) -> Callable[[float], str]:
    return lambda x: f"{x * factor:.{digits}f}"


# (header, metric, formatter of a value and of a half-width)
COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("jobs", "jobs", _num(0)),
    ("dropped", "dropped", _num(0)),
    ("hit rate", "hit_rate", _pct),
    ("acc@deadline", "accuracy_at_deadline", _pct),
    ("stages", "mean_stages", _num(2)),
    ("GMACs", "macs_executed", _scaled(1e-9, 3)),
    ("wasted", "wasted_fraction", _pct),
    ("energy J", "energy_j", _num(3)),
    ("final p50 ms", "latency_final_p50_s", _scaled(1e3, 2)),
    ("final p95 ms", "latency_final_p95_s", _scaled(1e3, 2)),
)


def cell(value: Interval, fmt: Callable[[float], str]) -> str:
    """``mean ±half`` (or ``mean`` alone with one seed, ``-`` when undefined)."""
    if value.mean is None:
        return "-"
    text = fmt(value.mean)
    half = value.half_width
    return text if half is None else f"{text} ±{fmt(half).rstrip('%')}"


def metric_rows(named: Mapping[str, Mapping[str, Interval]],
                columns=COLUMNS) -> list[list[str]]:
    """One row per name (system, or class) from its metric intervals."""
    return [[name] + [cell(metrics[m], fmt) for _, m, fmt in columns]
            for name, metrics in named.items()]


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """Aligned plain-text table, or a Markdown pipe table."""
    if markdown:
        lines = [headers, ["---"] + ["---:"] * (len(headers) - 1), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    fmt = lambda r: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def summary_table(summaries: Mapping[str, SystemSummary], markdown: bool = False) -> str:
    """The comparison table: one row per system."""
    headers = ["system"] + [h for h, _, _ in COLUMNS]
    rows = metric_rows({n: s.metrics for n, s in summaries.items()})
    return render(headers, rows, markdown)


def class_table(summaries: Mapping[str, SystemSummary], markdown: bool = False) -> str:
    """Per job class breakdown: one row per (system, class)."""
    headers = ["system / class"] + [h for h, _, _ in COLUMNS]
    named = {f"{n} / {c}": m for n, s in summaries.items() for c, m in s.classes.items()}
    return render(headers, metric_rows(named), markdown)


def deadline_table(curve: Sequence[tuple[float, Mapping[str, SystemSummary]]],
                   markdown: bool = False) -> str:
    """Hit rate and accuracy at deadline per (deadline, system) of a deadline sweep."""
    columns = [c for c in COLUMNS if c[1] in ("hit_rate", "accuracy_at_deadline",
                                               "mean_stages", "energy_j")]
    headers = ["deadline ms", "system"] + [h for h, _, _ in columns]
    rows = [[f"{d:g}"] + row for d, summaries in curve
            for row in metric_rows({n: s.metrics for n, s in summaries.items()}, columns)]
    return render(headers, rows, markdown)
