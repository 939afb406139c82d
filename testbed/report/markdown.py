"""``report.md``: the human-readable page of a report folder, as a string.

Reads a :class:`~testbed.report.document.Report` and the names of the figures the
writer saved next to it; returns Markdown: run facts, a short generated reading (who
meets more deadlines, at what accuracy and energy), the comparison tables and the plots.
"""

from __future__ import annotations

from typing import Mapping

from .document import Report
from .metrics import Interval, SystemSummary
from .table import COLUMNS, class_table, deadline_table, metric_rows, summary_table
from .table import render as render_table


def _pct(v: Interval) -> str:
    if v.mean is None:
        return "n/a"
    half = v.half_width
    return f"{100 * v.mean:.1f}%" + ("" if half is None else f" (±{100 * half:.1f})")


def _overlap(a: Interval, b: Interval) -> bool | None:
    if a.ci is None or b.ci is None:
        return None
    return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]


def _ranked(summaries: Mapping[str, SystemSummary], metric: str) -> list[str]:
    defined = [n for n, s in summaries.items() if s.metrics[metric].mean is not None]
    return sorted(defined, key=lambda n: -summaries[n].metrics[metric].mean)


def _leader(summaries: Mapping[str, SystemSummary], metric: str, what: str) -> str:
    order = _ranked(summaries, metric)
    if not order:
        return f"No system has a defined {what}."
    value = lambda n: summaries[n].metrics[metric]  # noqa: E731
    best = [n for n in order if value(n).mean == value(order[0]).mean]
    if len(best) > 1:
        text = f"{', '.join(f'**{n}**' for n in best)} tie for the highest {what}: {_pct(value(best[0]))}"
    else:
        text = f"**{best[0]}** has the highest {what}: {_pct(value(best[0]))}"
    rest = order[len(best):]
    if rest:
        text += " (then " + ", ".join(f"{n} {_pct(value(n))}" for n in rest) + ")"
        if len(best) == 1 and _overlap(value(best[0]), value(rest[0])):
            text += f"; the 95% intervals of {best[0]} and {rest[0]} overlap"
    return text + "."


def _energy(summaries: Mapping[str, SystemSummary]) -> str:
    parts = []
    for n, s in summaries.items():
        e, per_job = s.metrics["energy_j"].mean, s.metrics["energy_per_job_j"].mean
        waste = s.metrics["wasted_fraction"].mean
        if e is not None:
            job = "" if per_job is None else f", {1e3 * per_job:.3g} mJ per job"
            wasted = "" if waste is None else f", {100 * waste:.1f}% of MACs wasted"
            parts.append(f"{n} {e:.3g} J{job}{wasted}")
    if all(s.metrics["energy_j"].mean in (None, 0.0) for s in summaries.values()):
        return "Energy: not modelled (the platform gives no `pj_per_mac` or `idle_w`)."
    return "Energy: " + "; ".join(parts) + "."


def reading(summaries: Mapping[str, SystemSummary]) -> str:
    """A few generated sentences comparing the systems."""
    seeds = next(iter(summaries.values())).seeds if summaries else ()
    lines = [_leader(summaries, "hit_rate", "deadline hit rate"),
             _leader(summaries, "accuracy_at_deadline", "accuracy at deadline"),
             _energy(summaries)]
    if len(seeds) < 2:
        lines.append("One seed only: no confidence interval (use `--seeds N` for one).")
    return "\n".join(f"- {line}" for line in lines if line)


def _curve_reading(report: Report) -> str:
    wins: dict[str, int] = {}
    for _, summaries in report.curve:
        order = _ranked(summaries, "accuracy_at_deadline")
        if order:
            wins[order[0]] = wins.get(order[0], 0) + 1
    return "; ".join(f"**{n}** has the best accuracy at deadline at {k} of "
                     f"{len(report.curve)} deadlines" for n, k in wins.items()) + "."


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={v}" for k, v in value.items()) + ")"
    return str(value)


def _facts(report: Report) -> list[str]:
    seeds = ", ".join(map(str, report.seeds))
    facts = [f"- scenario file: `{report.scenario_file}`",
             f"- seeds: {seeds} ({len(report.seeds)} run(s) per system"
             + (", ± = 95% confidence interval over seeds)" if len(report.seeds) > 1 else ")"),
             f"- simulated duration per run: {report.duration_s:g} s",
             f"- command: `{report.command}`"]
    for name, info in report.systems_info.items():
        facts.append(f"- system **{name}**: " + ", ".join(
            f"{k} {_inline(v)}" for k, v in info.items()))
    if report.wall_s is not None:
        facts.append(f"- wall time: {report.wall_s:.1f} s")
    return facts


def render(report: Report, figures: Mapping[str, str]) -> str:
    """The whole page; ``figures`` maps a figure key (``rates``, ``timeline``,
    ``profiles``, ``latency``, ``deadlines``) to its file name in the folder."""
    out = [f"# {report.scenario}", ""]
    if report.description:
        out += [report.description.strip(), ""]
    out += _facts(report) + ["", "## Reading", "", reading(report.summaries), "",
                            "## Comparison", "", summary_table(report.summaries, True), ""]
    out += _figure(figures, "rates", "Deadline hit rate and accuracy at deadline")
    if any(s.classes for s in report.summaries.values()):
        out += ["## Per job class", "", class_table(report.summaries, True), ""]
    if any(s.faults for s in report.summaries.values()):
        out += ["## By fault window", "", FAULTS_NOTE, "", fault_table(report.summaries), ""]
    out += _sections(report, figures)
    out += ["## Files", "", "- `metrics.json`: every metric per system and class, with "
            "per-seed values and 95% intervals", "- `jobs.csv`: one row per job and system",
            "- `trace.csv`: the budget trace of the first seed", ""]
    return "\n".join(out)


FAULTS_NOTE = ("Jobs grouped by the faults that touched them: `stall` (a processor stall "
               "overlapped the job), `dropout` (the frame was lost), `burst` (it arrived in a "
               "sensor burst), `stage_failure` (one of its stages raised), `none`.")


def fault_table(summaries: Mapping[str, SystemSummary]) -> str:
    """One row per (system, fault group), as Markdown."""
    headers = ["system / fault"] + [h for h, _, _ in COLUMNS]
    named = {f"{n} / {g}": m for n, s in summaries.items() for g, m in s.faults.items()}
    return render_table(headers, metric_rows(named), True)


def _sections(report: Report, figures: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    if "timeline" in figures and report.window:
        t0, t1 = report.window
        out += [f"## Budget and stages (seed {report.events_seed}, {t0:g}–{t1:g} s)", ""]
        out += _figure(figures, "timeline", "Budget over time and the stages each system ran")
    if "profiles" in figures:
        out += ["## Accuracy against MACs", ""] + _figure(figures, "profiles", "Profiles")
    if "latency" in figures:
        out += ["## Latency", ""] + _figure(figures, "latency", "Latency CDF")
    if report.curve:
        out += ["## Deadline sweep", "", _curve_reading(report), "",
                deadline_table(report.curve, True), ""]
        out += _figure(figures, "deadlines", "Hit rate and accuracy against the deadline")
    return out


def _figure(figures: Mapping[str, str], key: str, caption: str) -> list[str]:
    return [f"![{caption}]({figures[key]})", ""] if key in figures else []

