"""Tables of combined metrics, as aligned terminal text or Markdown.

Reads :class:`~testbed.report.metrics.SystemSummary` objects (from ``metrics``) and
returns strings; ``testbed run`` prints the terminal form and ``report.md`` embeds the
Markdown form. A value with a confidence interval is shown as ``mean ±half-width``; a
paired difference to the reference system (:func:`difference_cell`) in percentage points
with its interval, or as "no difference" when that interval contains 0 or is missing.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from .metrics import Interval, SystemSummary, interval, sign


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(digits: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}f}"


def _scaled(factor: float, digits: int) -> Callable[[float], str]:
    return lambda x: f"{x * factor:.{digits}f}"


# (header, metric, formatter of a value and of a half-width)
COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("jobs", "jobs", _num(0)),
    ("dropped", "dropped", _num(0)),
    ("hit rate", "hit_rate", percent),
    ("acc@deadline", "accuracy_at_deadline", percent),
    ("utility", "utility", percent),
    ("stages", "mean_stages", _num(2)),
    ("GMACs", "macs_executed", _scaled(1e-9, 3)),
    ("wasted", "wasted_fraction", percent),
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


MINUS = "\u2212"   # the typographic minus sign, as in "−0.3"


def points(x: float) -> str:
    """A difference of fractions in signed percentage points: ``+3.1``, ``−0.3``, ``0.0``."""
    text = f"{100 * x:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", MINUS)


def span(diff: Interval) -> str:
    """``mean [low, high]`` of a paired difference in points (``mean`` alone, no interval)."""
    if diff.ci is None:
        return f"{points(diff.mean)}, no interval"
    return f"{points(diff.mean)} [{points(diff.ci[0])}, {points(diff.ci[1])}]"


def difference_cell(diff: Interval) -> str:
    """A paired difference: ``+3.1 [+2.0, +4.2]`` when its interval excludes 0, else
    ``no difference (−0.3 [−1.0, +0.4])``; ``-`` when undefined."""
    if diff.mean is None:
        return "-"
    return span(diff) if sign(diff) else f"no difference ({span(diff)})"


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


def mk_table(summaries: Mapping[str, SystemSummary], markdown: bool = False) -> str:
    """(m,k)-firm figures and the share of jobs answered by each step, per system."""
    steps = max((k for s in summaries.values() for k in s.answer_share), default=0)
    headers = ["system", "longest miss run", "(m,k) violated", "no answer",
               *(f"step {k}" for k in range(1, steps + 1))]
    missing = interval([])
    rows = [[name, cell(s.metrics["mk_longest_miss_run"], _num(1)),
             cell(s.metrics["mk_violation_share"], percent),
             cell(s.metrics["answer_share_none"], percent),
             *(cell(s.answer_share.get(k, missing), percent) for k in range(1, steps + 1))]
            for name, s in summaries.items()]
    return render(headers, rows, markdown)
