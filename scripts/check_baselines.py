#!/usr/bin/env python
"""Is every system at its best? (issue 16). For each system of a scenario (bounds aside),
evaluate a grid of policy settings that is denser than, and different from, the tuner's
default ``auto`` grid, on the scenario's *evaluation* seeds, and compare the best of them
with what ``testbed run`` reports for that system (tuned on the tuning seeds). Up-front
systems get the up-front policies' grid, incremental ones the incremental policies'.

Prints one JSON document and writes it to ``reports/bench/check_baselines-<scenario>.json``:
per system, the reported accuracy at deadline (mean over the evaluation seeds), the best
grid setting's and the gap in points. The issue's bar: no gap above 1 point.

    python scripts/check_baselines.py scenarios/autonomous_brake.yaml
    python scripts/check_baselines.py scenarios/drone_obstacle.yaml --systems slimmable
    python scripts/check_baselines.py scenarios/autonomous_brake.yaml --grid small \
        --systems steppingnet,anywidth --out reports/bench/check_incremental-autonomous_brake.json
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRIDS = {  # margins, alphas, confidences
    "dense": ([round(0.05 * i, 2) for i in range(0, 11)] + [0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
                                                            1.5, 2.0],
              [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0], [0.8, 0.9, 0.95, 1.0]),
    "small": ([0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.2, 2.0],
              [0.003, 0.03, 0.3, 0.6, 1.0], [0.85, 0.95, 1.0]),
}
THRESHOLDS = {"dense": (0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99),
              "small": (0.7, 0.8, 0.9, 0.95, 0.99)}   # confidence policy (incremental)
RESTARTS = [{"restart": False}, {"restart": True, "upgrade": False},
            {"restart": True, "upgrade": True}]


def dense_grid(num_stages: int, size: str = "dense", incremental: bool = False) -> list[dict]:
    """Every setting to try: up-front policies (``fixed``, ``pick_at_start``,
    ``safe_first`` with every restart mode) or, for an incremental bundle, the incremental
    ones (``fixed``, ``greedy``, ``deadline_aware``, ``confidence``)."""
    margins, alphas, confidences = GRIDS[size]
    grid = [{"name": "fixed", "k": k} for k in range(1, num_stages + 1)]
    if incremental:
        grid.append({"name": "greedy"})
        for m, a in itertools.product(margins, alphas):
            grid.append({"name": "deadline_aware", "margin": m, "ewma_alpha": a})
            grid.extend({"name": "confidence", "margin": m, "ewma_alpha": a, "threshold": t}
                        for t in THRESHOLDS[size])
        return grid
    for m, a, r in itertools.product(margins, alphas, RESTARTS):
        grid.append({"name": "pick_at_start", "margin": m, "ewma_alpha": a, **r})
        for c in confidences:
            grid.append({"name": "safe_first", "margin": m, "ewma_alpha": a, "confidence": c,
                         **r})
    return grid


def evaluate(scenario, system, settings: list[dict], seeds) -> list[float]:
    """Mean accuracy at deadline over ``seeds`` of each setting (side by side, one run)."""
    from testbed.sim.engine import simulate
    from testbed.sim.params import parse_kind
    from testbed.sim.policies import POLICIES

    trial = dataclasses.replace(scenario, systems=tuple(
        dataclasses.replace(system, name=str(i), candidates=(),
                            policy=parse_kind(POLICIES, s, "grid", "policy", key="name"))
        for i, s in enumerate(settings)))
    per_seed = []
    for seed in seeds:
        right, jobs = {}, {}

        def count(r):
            jobs[r.system] = jobs.get(r.system, 0) + 1
            right[r.system] = right.get(r.system, 0) + (r.hit and r.correct)
        simulate(trial, seed=seed, keep=False, on_record=count)
        per_seed.append([right.get(str(i), 0) / jobs[str(i)] for i in range(len(settings))])
    return [sum(s[i] for s in per_seed) / len(per_seed) for i in range(len(settings))]


def main(argv=None) -> int:
    from testbed.scenario import load_scenario
    from testbed.tuning import tune, tuning_seeds

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario")
    p.add_argument("--systems", help="comma-separated systems (default: every up-front one)")
    p.add_argument("--grid", choices=sorted(GRIDS), default="dense",
                   help="dense (2284 up-front / 1525 incremental settings for 4 subnets) or "
                        "small (664 / 335: long scenarios)")
    p.add_argument("--out", help="JSON path (default reports/bench/check_baselines-<name>.json)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    sc = load_scenario(args.scenario)
    seeds = list(range(sc.seed, sc.seed + sc.seeds))
    wanted = set(args.systems.split(",")) if args.systems else None
    known = {s.name for s in sc.systems if s.bound_of is None}
    if wanted and wanted - known:
        print(f"check_baselines.py: --systems: no system {sorted(wanted - known)[0]!r} in "
              f"{args.scenario} (systems: {', '.join(sorted(known))})", file=sys.stderr)
        return 2
    tuned, _ = tune(sc, tuning_seeds(sc.tuning.seeds), quality_bar=sc.quality_bar)
    out = {"scenario": str(args.scenario), "seeds": seeds, "command": " ".join(
        ["python", "scripts/check_baselines.py", *(argv or sys.argv[1:])]), "systems": {}}
    for system in tuned.systems:
        incremental = system.bundle.manifest.incremental
        checked = system.name in wanted if wanted else not incremental
        if system.bound_of is not None or not checked:
            continue
        reported = evaluate(tuned, system, [_setting(system.policy)], seeds)[0]
        grid = dense_grid(system.bundle.manifest.num_stages, args.grid, incremental)
        scores = evaluate(tuned, system, grid, seeds)
        best = max(range(len(grid)), key=lambda i: scores[i])
        out["systems"][system.name] = {
            "reported_policy": _setting(system.policy), "reported_accuracy": reported,
            "grid_size": len(grid), "best_grid_setting": grid[best],
            "best_grid_accuracy": scores[best], "gap_points": 100 * (scores[best] - reported)}
        print(f"{system.name}: reported {100 * reported:.2f}%, best of {len(grid)} "
              f"{100 * scores[best]:.2f}% ({grid[best]})", file=sys.stderr)
    out["wall_s"] = time.perf_counter() - start
    path = Path(args.out or ROOT / "reports" / "bench" / f"check_baselines-{sc.name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


def _setting(policy) -> dict:
    from testbed.tuning import describe
    d = describe(policy)
    return {"name": d["policy"], **d["params"]}


if __name__ == "__main__":
    sys.exit(main())
