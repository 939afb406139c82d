"""``report.md``: the human-readable page of a report folder, as a string.

Reads a :class:`~testbed.report.document.Report` and the names of the figures the
writer saved next to it; returns Markdown: run facts, a headline table (each system
against the reference, paired over seeds), a short generated reading, the tuning of each
system, the comparison tables and the plots. Claims of a lead rest on paired 95 %
intervals only: a difference whose interval contains 0, or that has none (one seed), is
"no difference"; upper-bound systems (oracles) are never ranked. Nothing host- or
wall-clock-dependent goes in, so the same command writes the same page byte for byte.
"""

from __future__ import annotations

from typing import Collection, Mapping, Sequence

from .document import Report, bounds_of, paired_of, reference_of
from .metrics import Interval, SystemSummary, difference, sign
from .table import (COLUMNS, cell, class_table, deadline_table, difference_cell, metric_rows,
                    mk_table, percent, points, summary_table)
from .table import render as render_table

HEADLINE = (("hit rate", "hit_rate"), ("acc@deadline", "accuracy_at_deadline"),
            ("utility", "utility"), ("hit@quality", "hit_at_quality"))
"""(header, metric) of the headline table; hit at quality only with a quality bar."""


def _pct(v: Interval) -> str:
    if v.mean is None:
        return "n/a"
    half = v.half_width
    return f"{100 * v.mean:.1f}%" + ("" if half is None else f" (±{100 * half:.1f})")


def _ranked(summaries: Mapping[str, SystemSummary], metric: str,
            exclude: Collection[str] = ()) -> list[str]:
    defined = [n for n, s in summaries.items()
               if s.metrics[metric].mean is not None and n not in exclude]
    return sorted(defined, key=lambda n: -summaries[n].metrics[metric].mean)


def leaders(summaries: Mapping[str, SystemSummary], metric: str,
            bounds: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """(systems other than ``bounds`` ranked by mean ``metric``, the leading group): the
    group is the top system and every system not below it by a paired 95 % interval."""
    order = _ranked(summaries, metric, bounds)
    if not order:
        return [], []
    top = summaries[order[0]].metrics[metric]
    group = [order[0]] + [n for n in order[1:]
                          if sign(difference(summaries[n].metrics[metric], top)) >= 0]
    return order, group


def _and(names: Sequence[str]) -> str:
    bold = [f"**{n}**" for n in names]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


def _diff_words(diff: Interval) -> str:
    """``−3.1 points (95% interval −4.2..−2.0)`` of a paired difference."""
    if diff.mean is None:
        return "undefined"
    if diff.ci is None:
        return f"{points(diff.mean)} points (one seed: no interval)"
    return f"{points(diff.mean)} points (95% interval {points(diff.ci[0])}..{points(diff.ci[1])})"


def _leader(summaries: Mapping[str, SystemSummary], metric: str, what: str,
            bounds: Collection[str] = ()) -> str:
    order, group = leaders(summaries, metric, bounds)
    if not order:
        return f"No system has a defined {what}."
    value = lambda n: summaries[n].metrics[metric]  # noqa: E731
    against = lambda n: _diff_words(difference(value(n), value(order[0])))  # noqa: E731
    if len(order) == 1:
        return (f"**{order[0]}** is the only ranked system with a defined {what}: "
                f"{_pct(value(order[0]))}.")
    if len(group) == 1:
        return (f"**{order[0]}** has the highest {what}: {_pct(value(order[0]))}; paired "
                f"difference to it: " + ", ".join(f"{n} ({_pct(value(n))}) {against(n)}"
                                                  for n in order[1:]) + ".")
    text = (f"{_and(group)}: no difference in {what} ("
            + ", ".join(f"{n} {_pct(value(n))}" for n in group) + "; paired difference to "
            + f"{group[0]}: " + ", ".join(f"{n} {against(n)}" for n in group[1:]) + ")")
    rest = [n for n in order if n not in group]
    if rest:
        text += f"; lower than {group[0]}: " + ", ".join(
            f"{n} ({_pct(value(n))}) {against(n)}" for n in rest)
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


def reading(summaries: Mapping[str, SystemSummary], bounds: Collection[str] = ()) -> str:
    """A few generated sentences comparing the systems (``bounds`` are not ranked)."""
    seeds = next(iter(summaries.values())).seeds if summaries else ()
    lines = [_leader(summaries, metric, what, bounds) for metric, what in (
        ("hit_rate", "deadline hit rate"), ("accuracy_at_deadline", "accuracy at deadline"),
        ("utility", "utility"), ("hit_at_quality", "hit at quality"))
        if any(s.metrics[metric].mean is not None for s in summaries.values())]
    lines.append(_energy(summaries))
    if bounds:
        lines.append(f"Not ranked (upper bounds, not real systems): {_and(list(bounds))}.")
    if len(seeds) < 2:
        lines.append("One seed only: no confidence interval, so no difference can be "
                     "claimed (use `--seeds N` for one).")
    return "\n".join(f"- {line}" for line in lines if line)


def _curve_reading(report: Report) -> str:
    bounds, wins, open_ = bounds_of(report), {}, 0
    for _, summaries in report.curve:
        order, group = leaders(summaries, "accuracy_at_deadline", bounds)
        if len(order) > 1 and len(group) == 1:
            wins[group[0]] = wins.get(group[0], 0) + 1
        else:
            open_ += 1
    total = len(report.curve)
    parts = [f"**{n}** has the highest accuracy at deadline, by a paired 95% interval, at "
             f"{k} of {total} deadlines" for n, k in wins.items()]
    if open_:
        parts.append(f"no system leads accuracy at deadline by a paired 95% interval at "
                     f"{open_} of {total} deadlines")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _compact(value: object) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_compact(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_compact, value)) + "]"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _policy(info: Mapping | None) -> str:
    """``deadline_aware (margin=0.1)``: the policy and its parameters, compactly."""
    info = info or {}
    params = info.get("policy_params")
    text = str(info.get("policy", "-")) + (f" {_compact(params)}" if params else "")
    return text.replace("|", "\\|")


FACT_LABELS = {"step_ms": "ms per step at budget 1.0"}


def _facts(report: Report) -> list[str]:
    seeds = ", ".join(map(str, report.seeds))
    facts = [f"- scenario file: `{report.scenario_file}`",
             f"- seeds: {seeds} ({len(report.seeds)} run(s) per system"
             + (", ± = 95% confidence interval over seeds)" if len(report.seeds) > 1 else ")"),
             f"- simulated duration per run: {report.duration_s:g} s",
             f"- command: `{report.command}`"]
    for name, info in report.systems_info.items():
        facts.append(f"- system **{name}**: " + ", ".join(
            f"{FACT_LABELS.get(k, k)} {_compact(v)}" for k, v in info.items()
            if k != "tuning" and v is not None and v != {}))
    return facts


def _headline_cell(value: Interval, diff: Interval | None) -> str:
    text = cell(value, percent)
    return text if diff is None or value.mean is None else f"{text} · {difference_cell(diff)}"


def _label(name: str, reference: str | None, bounds: Collection[str]) -> str:
    return (name + (" (reference)" if name == reference else "")
            + (" (bound)" if name in bounds else ""))


def headline_table(report: Report) -> str:
    """One row per system (upper bounds last): policy, then each headline metric with its
    paired difference to the reference (Markdown)."""
    ref, bounds, diffs = reference_of(report), bounds_of(report), paired_of(report)
    columns = [c for c in HEADLINE if c[1] != "hit_at_quality" or report.quality_bar is not None]
    headers = ["system", "policy"] + [
        f"hit@q≥{report.quality_bar:g}" if m == "hit_at_quality" else h for h, m in columns]
    names = [n for n in report.summaries if n not in bounds] + list(bounds)
    rows = [[_label(n, ref, bounds), _policy(report.systems_info.get(n))]
            + [_headline_cell(report.summaries[n].metrics[m], diffs.get(n, {}).get(m))
               for _, m in columns] for n in names]
    return render_table(headers, rows, True)


def _headline_notes(report: Report) -> list[str]:
    notes = [f"Values: mean over the {len(report.seeds)} seed(s)"
             + (" ± half-width of the 95% interval" if len(report.seeds) > 1 else "")
             + f". After ·: the paired difference to **{reference_of(report)}** (system − "
             "reference, seed by seed, on the same frames and budget trace) in percentage "
             "points with its 95% interval; **no difference** when that interval contains 0 "
             "or there is only one seed.",
             "Utility: mean measured test accuracy of the model whose result a job emitted, "
             "a miss or a dropped job counting 0."]
    if report.quality_bar is not None:
        notes.append(f"hit@q≥{report.quality_bar:g}: share of jobs with a result by the "
                     f"deadline from a model of measured test accuracy at least "
                     f"q = {report.quality_bar:g}.")
    for n in bounds_of(report):
        note = report.systems_info.get(n, {}).get("bound") or "an oracle policy"
        notes.append(f"**{n}** (bound) is an upper bound, not a real system: {note}.")
    return ["", *(f"- {n}" for n in notes)]


def _seed_list(seeds: Sequence[int]) -> str:
    """``1, 2, 3, 7`` as ``1–3, 7``."""
    runs: list[list[int]] = []
    for s in sorted(seeds):
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _tuning_line(name: str, info: Mapping, tuning: Mapping, objective: str) -> str:
    seeds, duration = tuning.get("seeds", ()), tuning.get("duration_s")
    line = (f"- **{name}**: chose {_policy(info)}, score {_compact(tuning.get('score'))} "
            f"on `{tuning.get('objective', objective)}` over {len(seeds)} tuning seed(s) "
            f"({_seed_list(seeds)})" + (f" of {duration:g} s" if duration else "")
            + f" among {tuning.get('candidates', '?')} candidates")
    top = tuning.get("top") or []
    if len(top) > 1:
        line += "; next best: " + ", ".join(
            f"{_policy({'policy': t.get('policy'), 'policy_params': t.get('params')})} "
            f"{_compact(t.get('score'))}" for t in top[1:3])
    if "max_task_miss_rate" in tuning:
        line += (f"; the other tasks' worst miss rate {tuning['task_miss_rate']:.2%} (limit "
                 f"{tuning['max_task_miss_rate']:.2%}; {tuning['over_limit']} of the "
                 f"{tuning.get('candidates', '?')} candidates over it on the first tuning "
                 "seed, ranked last)")
    return line + "."


def tuning_section(report: Report) -> list[str]:
    """Per tuned system: the chosen setting, its score, the objective, the tuning seeds
    and the number of candidates; says whether tuning and evaluation seeds are disjoint."""
    tuned = {n: i["tuning"] for n, i in report.systems_info.items() if i.get("tuning")}
    if not tuned:
        return []
    shared = sorted({s for t in tuned.values() for s in t.get("seeds", ())} & set(report.seeds))
    seeds = (f"Tuning seeds are disjoint from the evaluation seeds ({_seed_list(report.seeds)})."
             if not shared else f"**Warning:** tuning seeds {_seed_list(shared)} are also "
             "evaluation seeds, so the evaluation favours the tuned systems.")
    untuned = [n for n in report.summaries if n not in tuned]
    out = ["## Tuning", "", seeds + (f" Not tuned (settings as given): {', '.join(untuned)}."
                                     if untuned else ""), ""]
    out += [_tuning_line(n, report.systems_info[n], t, report.objective) for n, t in tuned.items()]
    return out + [""]


def mk_section(report: Report) -> list[str]:
    m, k = report.mk
    q = ("no quality bar q is set (hit at quality is not computed)"
         if report.quality_bar is None else f"the quality bar is q = {report.quality_bar:g}")
    text = (f"(m,k) = ({m},{k}): at least {m} of every {k} consecutive jobs (in arrival order, "
            f"all job classes together; per class in `metrics.json`) should have a result by "
            f"the deadline. Longest miss run: most consecutive jobs without one; (m,k) "
            f"violated: share of the windows of {k} consecutive jobs with fewer than {m}. "
            f"Step columns: share of jobs whose emitted result came from that step; {q}.")
    return ["## (m,k)-firm and answers per step", "", text, "",
            mk_table(report.summaries, True), ""]


def render(report: Report, figures: Mapping[str, str]) -> str:
    """The whole page; ``figures`` maps a figure key (``rates``, ``timeline``,
    ``profiles``, ``latency``, ``deadlines``) to its file name in the folder."""
    out = [f"# {report.scenario}", ""]
    if report.description:
        out += [report.description.strip(), ""]
    out += _facts(report) + ["", "## Headline", "", headline_table(report)]
    out += _headline_notes(report)
    out += ["", "## Reading", "", reading(report.summaries, bounds_of(report)), ""]
    out += tuning_section(report)
    out += ["## Comparison", "", summary_table(report.summaries, True), ""]
    out += _figure(figures, "rates", "Deadline hit rate and accuracy at deadline")
    out += mk_section(report)
    if any(s.classes for s in report.summaries.values()):
        out += ["## Per job class", "", class_table(report.summaries, True), ""]
    out += tasks_section(report)
    if any(s.faults for s in report.summaries.values()):
        out += ["## By fault window", "", FAULTS_NOTE, "", fault_table(report.summaries), ""]
    out += _sections(report, figures)
    out += ["## Files", "", "- `metrics.json`: every metric per system and class, with "
            "per-seed values, 95% intervals and paired differences to the reference",
            (f"- `{report.jobs_file}`: {report.jobs_note}" if report.jobs_file
             else f"- {report.jobs_note}"),
            "- `trace.csv`: the budget trace of the first seed", ""]
    return "\n".join(out)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def tasks_section(report: Report) -> list[str]:
    """The non-DNN tasks of a task-set platform (issue 20): simulated worst response
    beside the response-time-analysis bound, per task over every system and seed."""
    if not report.tasks:
        return []
    rows = [[f"{name} / {system}", str(t["jobs"]), _ms(t["worst_response_ms"]),
             _ms(t["rta_bound_ms"]), str(t["deadline_misses"])]
            for name, task in report.tasks.items() for system, t in task["systems"].items()]
    text = ("The other tasks on the platform beside each system's DNN jobs, over every "
            "seed: the worst response time simulated (from the nominal release) and the "
            "fixed-priority response-time-analysis bound (– under EDF, or where no bound "
            "exists: an unbounded execution time or a level utilisation of 1). Over all "
            "systems in `metrics.json` (`tasks`).")
    return ["## Other tasks on the platform", "", text, "",
            render_table(["task / system", "jobs", "worst response (ms)", "RTA bound (ms)",
                          "deadline misses"], rows, True), ""]


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
        out += [f"## Budget and stages (seed {report.events_seed}: the whole run, and "
                f"{t0:g}–{t1:g} s in detail)", ""]
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
