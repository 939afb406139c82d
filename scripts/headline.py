"""Print README's headline tables from the committed example reports' metrics.json.

    python scripts/headline.py [--reports reports] [--metric accuracy_at_deadline]

Three markdown tables: the fluid-budget scenarios (the reference system's value and every
other system's paired difference with its 95% interval; ≈ where the interval contains 0;
plus the cost-model variants of :data:`VARIANTS`),
the task-set scenarios (the same, plus each other task's worst response and its
response-time-analysis bound), and the autonomous_brake deadline curve. README quotes them
as printed, so that its figures come from a command anyone can rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from testbed.report.metrics import interval

FLUID = ["autonomous_brake", "drone_obstacle", "mobile_powersave", "thermal_throttle",
         "emergency_events", "faults"]
VARIANTS = {  # report folder -> (label, the command that writes it)
    "autonomous_brake-unpadded": (
        "autonomous_brake, `padded: false`",
        "testbed run scenarios/autonomous_brake.yaml --set platform.latency.padded=false "
        "--out reports/autonomous_brake-unpadded"),
}
TASK_SETS = ["autonomous_brake_rt", "phone_ui_rt"]
OTHERS = ["anywidth", "slimmable", "static"]
BOUNDS = ["static@budget_oracle", "steppingnet@budget_oracle"]


def signed(x: float, digits: int = 1) -> str:
    return f"{x:+.{digits}f}".replace("-", "−") if round(x, digits) != 0 else f"{0:.{digits}f}"


def paired(entry: dict | None, metric: str) -> str:
    """``x [lo, hi]`` in points; ``≈ (…)`` when the interval contains 0."""
    if not entry or metric not in entry.get("paired", {}):
        return "n/a"
    p = entry["paired"][metric]
    return points(p["mean"], p["ci95"], scale(metric))


FRACTIONS = {"hit_rate", "accuracy_at_deadline", "utility", "hit_at_quality",
             "answer_share_none", "mk_violation_share", "wasted_fraction"}


def scale(metric: str) -> float:
    """Fractions print in percent (points for differences), other metrics as they are."""
    return 100.0 if metric in FRACTIONS else 1.0


def points(mean: float, ci95, factor: float = 100.0) -> str:
    mean, (lo, hi) = factor * mean, (factor * v for v in ci95)
    d = 1 if factor == 100.0 else 2
    text = f"{signed(mean, d)} [{signed(lo, d)}, {signed(hi, d)}]"
    return f"≈ ({text})" if lo <= 0 <= hi else text


def value(entry: dict, metric: str) -> str:
    m = entry["metrics"]
    v = m[metric]["mean"]
    shown = f"{100 * v:.1f}%" if metric in FRACTIONS else f"{v:.3g}"
    return f"{shown} ({100 * m['hit_rate']['mean']:.1f}%)"


def load(reports: Path, name: str) -> dict:
    path = reports / name / "metrics.json"
    command = VARIANTS[name][1] if name in VARIANTS else f"testbed run scenarios/{name}.yaml"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: cannot read the report's metrics ({e}); run `{command}` first")


def fluid_table(reports: Path, metric: str) -> list[str]:
    head = ["scenario", f"steppingnet: {metric} (hit)", *OTHERS, *(b.replace("@", ", ") for b in BOUNDS)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in FLUID + list(VARIANTS):
        s = load(reports, name)["systems"]
        label = VARIANTS[name][0] if name in VARIANTS else name
        cells = [f"[{label}](reports/{name}/report.md)", value(s["steppingnet"], metric)]
        cells += [paired(s.get(o), metric) for o in OTHERS + BOUNDS]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def task_table(reports: Path, metric: str) -> list[str]:
    head = ["scenario", f"steppingnet: {metric} (hit)", *OTHERS,
            "other tasks: worst response (RTA bound), misses (one value per system where "
            "they differ: " + " / ".join(["steppingnet", *OTHERS]) + ")"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in TASK_SETS:
        d = load(reports, name)
        s = d["systems"]
        cells = [f"[{name}](reports/{name}/report.md)", value(s["steppingnet"], metric)]
        cells += [paired(s.get(o), metric) for o in OTHERS]
        cells.append("; ".join(task_cell(task, t) for task, t in d.get("tasks", {}).items()) or "—")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def task_cell(task: str, t: dict) -> str:
    """``task W ms (bound B), misses M``, one value per system where they differ."""
    def per_system(f):
        vals = [f(v) for v in t["systems"].values()]
        return vals[0] if len(set(vals)) == 1 else " / ".join(vals)
    worst = per_system(lambda v: f"{v['worst_response_ms']:.2f}")
    bound = f" (bound {t['rta_bound_ms']:.2f})" if t.get("rta_bound_ms") is not None else ""
    misses = per_system(lambda v: str(v["deadline_misses"]))
    return f"{task} {worst} ms{bound}, misses {misses}"


def deadline_table(reports: Path, metric: str) -> list[str]:
    sweep = load(reports, "autonomous_brake-deadlines").get("deadline_sweep") or []
    head = ["deadline", f"steppingnet: {metric} (hit)", *(f"{o} − steppingnet" for o in OTHERS),
            "static@budget_oracle − steppingnet"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for point in sweep:
        s = point["systems"]
        cells = [f"{point['deadline_ms']:g} ms", value(s["steppingnet"], metric)]
        ref = s["steppingnet"]["metrics"][metric]["per_seed"]
        for o in OTHERS + ["static@budget_oracle"]:
            other = s[o]["metrics"][metric]["per_seed"]
            diff = interval([a - b for a, b in zip(other, ref)])
            cells.append(points(diff.mean, diff.ci, scale(metric)))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=Path, default=Path("reports"))
    ap.add_argument("--metric", default="accuracy_at_deadline",
                    help="any metric of metrics.json (default accuracy_at_deadline); "
                         "fractions print in percent and points")
    a = ap.parse_args(argv)
    for title, table in (("Fluid budget", fluid_table), ("Task sets", task_table),
                         ("autonomous_brake deadline curve", deadline_table)):
        print(f"### {title}\n")
        print("\n".join(table(a.reports, a.metric)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
