"""Writing a validation folder, atomically: ``validation.json``, ``report.md`` and a figure.

The last step of ``testbed validate``: :func:`document` turns a
:class:`~testbed.validate.validation.Validation` into the JSON of DESIGN.md §8
(``systems.<name>.{sim, real}.{hit_rate, accuracy_at_deadline, mean_steps, p50_ms,
p95_ms}``, per-job ``agreement``, the mechanism, host and command), :func:`markdown`
into the side-by-side report, :func:`figure` into the latency CDFs and per-job steps of
both sides; :func:`write` builds them in a temporary folder swapped in when complete
(:func:`testbed.report.writers.atomic_folder`), so a failed run never leaves a half
report over a good one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from . import compare
from ..steadiness import SLOW_SPELL, WINDOW_S, describe

JSON_FILE, REPORT_FILE, FIGURE_FILE = "validation.json", "report.md", "latency_cdf.png"
JOBS_FILE = "jobs.csv"
JOB_COLUMNS = ("system", "job_id", "arrival_ms", "budget", "sim_steps", "real_steps",
               "sim_result", "real_result", "sim_latency_ms", "real_latency_ms", "sim_correct",
               "real_correct", "sim_dropped", "real_dropped")


def host() -> dict:
    from ..profile import host_info
    info = host_info()
    try:
        info["loadavg"] = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        pass
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def document(v, command: str, host_before: dict | None = None) -> dict:
    s = v.scenario
    systems = v.figures()
    before = host_before or host()
    return {
        "scenario": s.name, "scenario_file": str(s.path), "command": command,
        "seed": s.seed, "duration_s": s.duration_s, "cost_model": s.cost_model,
        "mechanism": _mechanism(v),
        "target": {"points": compare.TARGET_POINTS, "agreement": compare.TARGET_AGREEMENT},
        "met": bool(systems) and all(x["met"] for x in systems.values()),
        "met_scaled": _all_met(systems, "met_scaled"),
        "met_tracked": _all_met(systems, "met_tracked"),
        "systems": systems, "skipped": v.skipped, "probe": v.probe,
        "tuned": sorted(v.tuning),
        "host": before, "host_after": host(),
        "warnings": model_warnings(s, before.get("vector")),
    }


def model_warnings(scenario, vector: str | None) -> list[str]:
    """What makes the scenario's cost model unfit for this host, in words: a latency model
    whose channel block is not this CPU's (calibrated on another host)."""
    latency = getattr(scenario.platform, "latency", None)
    if scenario.cost_model != "latency" or latency is None or not latency.padded:
        return []
    from ..sim.latency import VECTOR_BLOCK
    expected = VECTOR_BLOCK.get(vector or "")
    if expected is None or expected == latency.block:
        return []
    return [f"the latency model charges convolutions in channel blocks of {latency.block}, "
            f"but this CPU ({vector}) computes them in blocks of {expected}: it was "
            "calibrated on another host; run `testbed calibrate` here and validate "
            "against that platform file (`--set platform.file=...`)"]


def _all_met(systems: dict, key: str) -> bool | None:
    """Every system met the target by ``key`` (None: some system lacks that figure)."""
    if not systems or not all(key in x for x in systems.values()):
        return None
    return all(x[key] for x in systems.values())


def _mechanism(v) -> dict:
    m = v.mechanism
    corunner = m.name == "corunner"
    return {"name": m.name, "requested": m.requested, "reason": m.reason, "core": v.core,
            "idle": v.idle if corunner else None,
            "executor_fifo": False,  # never: with the co-runner it can exhaust the RT cap
            "period_ms": v.period_s * 1e3 if corunner else None, "rt_cap": m.rt_cap,
            "min_budget_imposable": m.min_budget, "trace_min_budget": v.min_budget,
            "below_imposable": corunner and v.min_budget < m.min_budget, "check": v.check}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _num(x, fmt: str = ".2f") -> str:
    return "—" if x is None else format(x, fmt)


def markdown(doc: dict) -> str:
    lines = (_header(doc) + _table(doc) + _repeats(doc) + _steps(doc) + _confusions(doc)
             + _skipped(doc))
    return "\n".join(lines) + "\n"


def _header(doc: dict) -> list[str]:
    m = doc["mechanism"]
    lines = [f"# Validation: {doc['scenario']} — simulated vs real on this host", "",
             f"Command: `{doc['command']}`", "",
             f"Seed {doc['seed']}, {doc['duration_s']:g} s of frames, cost model "
             f"`{doc['cost_model']}`. Mechanism: **{m['name']}** ({m['reason']}; core "
             f"{m['core']}" + (f", period {m['period_ms']:g} ms" if m['period_ms'] else "")
             + "). Host: " + f"{doc['host'].get('cpu')}, load before "
             f"{doc['host'].get('loadavg')}, after {doc['host_after'].get('loadavg')}.", ""]
    lines += [f"**Warning:** {w}." for w in doc.get("warnings", [])]
    if doc.get("warnings"):
        lines.append("")
    if doc.get("probe"):
        lines += [_probe_line(doc["probe"]), ""]
    if m["check"]:
        c = m["check"]
        lines += [f"Co-runner calibration, before every system's run: at a constant budget "
                  f"{c['budget']:g}, a whole job of the system (every step in a row, "
                  f"{c['runs']} jobs 1 ms apart) got a share of the core measured as its "
                  "time alone over its time beside the co-runner; each co-runner period "
                  "then spins shorter by what the job lost (overhead, corrected until the "
                  "job gets the budget within 0.02), and the system is simulated on what "
                  "the co-runner imposes at its own resolution (a spin, then the rest of "
                  "the period; *fluid*: on the trace's own rows). See Repeats.", ""]
    if m["below_imposable"]:
        lines += [f"Note: the trace goes down to budget {m['trace_min_budget']:.3f}, below "
                  f"the {m['min_budget_imposable']:.3f} the co-runner can impose "
                  f"(real-time tasks are capped at {100 * m['rt_cap']:.0f} % of a core).", ""]
    return lines


def _table(doc: dict) -> list[str]:
    lines = ["| system | hit rate sim / real (%) | Δ pts | accuracy sim / real (%) | Δ pts "
             "| steps sim / real | p50 ms sim / real | p95 ms sim / real | agreement "
             "| sim vs itself | met |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, x in doc["systems"].items():
        a, b, d = x["sim"], x["real"], x["difference"]
        lines.append(
            f"| {name} | {_pct(a['hit_rate'])} / {_pct(b['hit_rate'])} | "
            f"{_num(d['hit_rate'], '+.1f')} | {_pct(a['accuracy_at_deadline'])} / "
            f"{_pct(b['accuracy_at_deadline'])} | {_num(d['accuracy_at_deadline'], '+.1f')} | "
            f"{_num(a['mean_steps'])} / {_num(b['mean_steps'])} | {_num(a['p50_ms'], '.3f')} / "
            f"{_num(b['p50_ms'], '.3f')} | {_num(a['p95_ms'], '.3f')} / {_num(b['p95_ms'], '.3f')}"
            f" | {_pct(x['agreement'])} % | {_ceiling(x.get('self_agreement'))} | "
            f"{'yes' if x['met'] else 'no'} |")
    t = doc["target"]
    return lines + ["", f"Target: |sim − real| ≤ {t['points']:g} points of hit rate and of "
                    f"accuracy at deadline, per-job agreement ≥ {100 * t['agreement']:.0f} %: "
                    f"**{'met' if doc['met'] else 'not met'}**." + _scaled_verdict(doc), "",
                    _ceiling_note(doc), "", f"![latency]({FIGURE_FILE})", ""]


def _ceiling(value: float | None) -> str:
    return "—" if value is None else f"{_pct(value)} %"


def _ceiling_note(doc: dict) -> str:
    """What the "sim vs itself" column means, and which systems it rules out."""
    from .ceiling import REDRAWS
    target = doc["target"]["agreement"]
    low = [name for name, x in doc["systems"].items()
           if x.get("self_agreement") is not None and x["self_agreement"] < target]
    text = ("Sim vs itself: the same simulation rerun on independent execution-time draws "
            f"(the cost model's variability; median of {REDRAWS}), job by job against the "
            "first: what a real run could agree at if the model were exact, since the host "
            "draws its own times. — : the model draws none (it agrees with itself on every "
            "job).")
    if low:
        text += (f" Under the {100 * target:.0f} % target for {', '.join(low)}: at this "
                 "setting their jobs end where the steps' own spread decides them, and no "
                 "real run can be expected to meet the per-job target.")
    return text


def _scaled_verdict(doc: dict) -> str:
    out = _rig_verdict(doc)
    if doc.get("met_scaled") is not None:
        out += (" Simulated at the host's speed measured around each run (Repeats): "
                f"**{'met' if doc['met_scaled'] else 'not met'}**.")
    if doc.get("met_tracked") is not None:
        out += (" Simulated at the speed the run's own steps showed, window by window "
                "(Repeats; this no longer tests the model's absolute speed): "
                f"**{'met' if doc['met_tracked'] else 'not met'}**.")
    return out


def _rig_verdict(doc: dict) -> str:
    systems = doc["systems"].values()
    if not systems or not all("rig_held_repeats" in x for x in systems):
        return ""
    total = sum(len(x["repeats"]) for x in systems)
    held = sum(x["rig_held_repeats"] for x in systems)
    met = sum(x["met_rig_held_repeats"] for x in systems)
    from .validation import RIG_TOLERANCE
    return (f" The co-runner's last check left the job its budget within {RIG_TOLERANCE:g} "
            f"in {held} of "
            f"{total} repeats (Repeats, \"share got\"); of those, {met} met the target.")


def _repeats(doc: dict) -> list[str]:
    lines = ["## Repeats", "",
             "Every system ran for real once per repeat (all systems, then again); the "
             "tables above and below, the figure and jobs.csv give each system's median "
             "repeat by per-job agreement; a system meets the target when most of its "
             "repeats do.", "",
             "| system | repeat | hit Δ pts | accuracy Δ pts | agreement | met | host speed | "
             "at host speed: hit / acc Δ pts, agreement, met | tracked speed: median, p90, "
             "slow windows | at tracked speed: hit / acc Δ pts, agreement, met | "
             "co-runner overhead µs | share got (before → after) | fluid − imposed hit / "
             "acc pts |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, x in doc["systems"].items():
        fluid = x.get("fluid_difference")
        for r in x["repeats"]:
            c, d = r["corunner"], r["difference"]
            rig = ("—", "—") if c is None else (
                f"{c['overhead_us']:.1f}",
                f"{c['effective_before']:.3f} → {c['effective_after']:.3f}")
            lines.append(
                f"| {name} | {r['repeat']} | {_num(d['hit_rate'], '+.1f')} | "
                f"{_num(d['accuracy_at_deadline'], '+.1f')} | {_pct(r['agreement'])} % | "
                f"{'yes' if r['met'] else 'no'} | {_speed(r)} | "
                f"{_at_speed(r.get('scaled'))} | {_tracked(r.get('tracked'))} | "
                f"{_at_speed(r.get('tracked'))} | {rig[0]} | {rig[1]} | "
                + ("—" if fluid is None or r["repeat"] != x["repeat"] else
                   f"{_num(fluid['hit_rate'], '+.1f')} / "
                   f"{_num(fluid['accuracy_at_deadline'], '+.1f')}") + " |")
    return lines + ["", "Host speed: a whole job's median time alone (jobs 1 ms apart) over "
                    "the cost model's time for it, measured just before and just after the "
                    "run (geometric mean); above 1 the host ran slower than calibrated. At "
                    "host speed: the same system simulated with every graph that much "
                    "slower (or faster), against the real run — where the calibrated "
                    "simulation misses and this one holds, the host's speed moved since "
                    "calibration; where both miss, the model is wrong.", "",
                    "Tracked speed: every real step's served work over the model's time "
                    "for it (a job's first step with the model's `job_start`), the median "
                    f"per {_window(doc)} window, over the run's windows; slow windows: the "
                    f"share above {SLOW_SPELL:g}×. At tracked speed: the system simulated "
                    "with every graph as slow as the host was in that window. It takes "
                    "the speed from the run itself, so it no longer tests the model's "
                    "absolute speed, only the rest (step costs relative to each other, "
                    "the policies' decisions, queueing, deadlines): where the calibrated "
                    "simulation misses and this one holds, the host's speed changed within "
                    "the run.", "", "Fluid − imposed: the simulation on the trace's own rows minus the "
                    "one on the co-runner's periods (the error of the fluid budget "
                    "abstraction at this time scale; shown for the median repeat).", ""]


def _speed(r: dict) -> str:
    if r.get("host_speed_before") is None:
        return _num(r.get("host_speed"), ".3f")
    return (f"{_num(r.get('host_speed'), '.3f')} ({r['host_speed_before']:.3f} → "
            f"{_num(r.get('host_speed_after'), '.3f')})")


def _probe_line(probe: dict) -> str:
    """The core's steadiness around the runs, in one sentence."""
    return ("Host steadiness around the runs (a fixed loop of Python arithmetic, no model, "
            "on the executor's core; `--probe-s`), " + describe(probe) + ". On a quiet core "
            "no window does; spells of a slower core land on some jobs and not others, "
            "which no constant speed explains (see the tracked speed under Repeats). The "
            "loop's time compares with `testbed calibrate`'s probe (calibration.json, "
            "host): a core slower for the whole probe shows there.")


def _tracked(tracked: dict | None) -> str:
    if tracked is None or tracked.get("speed") is None:
        return "—"
    sp = tracked["speed"]
    return f"{sp['median']:.2f}, {sp['p90']:.2f}, {100 * sp['slow_share']:.0f} %"


def _window(doc: dict) -> str:
    for x in doc["systems"].values():
        for r in x["repeats"]:
            speed = (r.get("tracked") or {}).get("speed")
            if speed:
                return f"{speed['window_ms']:g} ms"
    return f"{WINDOW_S * 1e3:g} ms"


def _at_speed(scaled: dict | None) -> str:
    if scaled is None:
        return "—"
    d = scaled["difference"]
    return (f"{_num(d['hit_rate'], '+.1f')} / {_num(d['accuracy_at_deadline'], '+.1f')}, "
            f"{_pct(scaled['agreement'])} %, {'yes' if scaled['met'] else 'no'}")


def _steps(doc: dict) -> list[str]:
    lines = ["## Step costs: the cost model against what the platform served", "",
             "| system | step | model ms | served ms (median) | served ms (p95) | "
             "before the graph µs (median) | runs |",
             "|---|---|---|---|---|---|---|"]
    for name, x in doc["systems"].items():
        for r in x["steps"]:
            lines.append(f"| {name} | {r['step']} | {r['model_ms']:.3f} | "
                         f"{_num(r['measured_median_ms'], '.3f')} | "
                         f"{_num(r['measured_p95_ms'], '.3f')} | "
                         f"{_num(r.get('before_median_us'), '.1f')} | {r['runs']} |")
    return lines + ["", "Served: the trace's integral over the step's real span, in ms at "
                    "full budget (under dilation, the measured full-speed duration). Model: "
                    "the median the policies see (a job's first graph also pays the "
                    "platform's `job_start` for its idle gap). Before the graph: the part "
                    "of the span spent in the executor's own Python (the policy's decision, "
                    "admissions, the previous job's records), wall clock; the simulator "
                    "charges none of it.", ""]


def _confusions(doc: dict) -> list[str]:
    lines = ["## Result step per job: simulated (rows) vs real (columns)", ""]
    for name, x in doc["systems"].items():
        table = x["steps_confusion"]
        head = " | ".join(str(j) for j in range(len(table)))
        lines += [f"**{name}**", "", f"| sim \\ real | {head} |",
                  "|---" * (len(table) + 1) + "|"]
        lines += [f"| {i} | " + " | ".join(str(c) for c in row) + " |"
                  for i, row in enumerate(table)]
        lines.append("")
    return lines


def _skipped(doc: dict) -> list[str]:
    if not doc["skipped"]:
        return []
    return ["## Not run for real", ""] + [f"- {n}: {why}" for n, why in doc["skipped"].items()] \
        + [""]


def figure(v):
    """Per system: the CDF of the latency to the emitted result, simulated vs real."""
    from matplotlib.figure import Figure
    runs = v.representative()
    fig = Figure(figsize=(3.2 * max(1, len(runs)), 3.2), layout="constrained")
    axes = fig.subplots(1, max(1, len(runs)), squeeze=False)[0]
    deadlines = [c.deadline_ms for c in v.scenario.workload]
    for ax, run in zip(axes, runs):
        for records, label, style in ((run.sim, "simulated", "--"), (run.real, "real", "-")):
            xs = np.sort([r.latency_final_s * 1e3 for r in records
                          if r.final_result_s is not None])
            if len(xs):
                ax.step(xs, 100 * np.arange(1, len(xs) + 1) / len(records), style,
                        where="post", label=label)
        for d in deadlines:
            ax.axvline(d, color="grey", ls=":", lw=1)
        ax.set(title=run.name, xlabel="latency to result (ms)", ylim=(0, 102))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% of jobs with a result by then")
    axes[0].legend(fontsize="small")
    return fig


def write(v, out, command: str, host_before: dict | None = None) -> dict:
    from ..report.writers import atomic_folder, save_figure
    doc = document(v, command, host_before)
    with atomic_folder(out) as tmp:
        (tmp / JSON_FILE).write_text(json.dumps(doc, indent=2) + "\n")
        (tmp / REPORT_FILE).write_text(markdown(doc))
        save_figure(figure(v), tmp / FIGURE_FILE)
        write_jobs(v, tmp / JOBS_FILE)
        for name in os.listdir(tmp):
            os.chmod(tmp / name, 0o644)
    return doc


def job_rows(v):
    """Per system and job: both sides' steps, result, latency and verdict, and the budget
    at arrival (for finding where they part)."""
    from ..sim.trace import budget_at
    for run in v.representative():
        real = {r.job_id: r for r in run.real}
        for s in run.sim:
            r = real.get(s.job_id)
            if r is None:
                continue
            yield (run.name, s.job_id, s.arrival_s * 1e3,
                   budget_at(v.trace, s.arrival_s) if v.trace is not None else "",
                   s.stages_done, r.stages_done, s.result_stage, r.result_stage,
                   _latency_ms(s), _latency_ms(r), int(s.correct), int(r.correct),
                   int(s.dropped), int(r.dropped))


def _latency_ms(record) -> str:
    value = record.latency_final_s
    return "" if value is None else f"{value * 1e3:.4f}"


def write_jobs(v, path) -> None:
    import csv
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(JOB_COLUMNS)
        out.writerows(job_rows(v))
