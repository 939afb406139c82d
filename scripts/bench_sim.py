#!/usr/bin/env python
"""Simulator and sweep benchmark (issue 8, points 3-4); prints one JSON document and
writes it to ``reports/bench/bench_sim.json``.

1. Speed: one simulated hour of a 30 fps camera (33.333 ms period, 1 ms jitter, 30 ms
   deadline) with 4-stage toy bundles under a fluctuating (Markov) budget, one system at
   a time (SteppingNet and any-width with ``deadline_aware``, slimmable and static with
   ``pick_at_start``), per-job records streamed to a sink rather than kept. In the same
   run, the floor the library itself sets: a bare SimPy loop with the same number of
   processes and timeouts as that system's simulation and no model logic. CPU seconds
   (``time.process_time``), best of ``--repeat``. Targets: about 10 us per job, one hour
   under 5 s per system. With ``--baseline DIR`` (a checkout of an earlier commit, e.g.
   ``git worktree add /tmp/base c4f0027``), the same scenarios are also timed with that
   tree's simulator in a child process, interleaved with this one's, and the ratio is
   reported (issue 16: within 1.5x of the simulator before the fair-comparison work). The
   ratio to a bare SimPy loop is still printed; its old 2x target is retired.
2. Memory: peak RSS (``ru_maxrss`` of a fresh child process) of a 1-hour and a 24-hour
   run of one system with every job row streamed to a ``jobs.csv`` on disk. Target:
   24 h <= 1.5x 1 h.
3. Sweep: a 40-point sweep (8 deadlines x 5 seeds, every system) with 1 and 2 local
   workers; wall-clock speed-up.

The toy bundles (no trained models needed) are built in a temporary folder with
``tests/toybundle.py``; they have the planned bundles' per-stage MACs (10/30/50/85% of
LeNet-3C1L's 10.57 MMACs), which is all the simulator's speed depends on.

    python scripts/bench_sim.py                        # the figures in README
    python scripts/bench_sim.py --hours 0.05 --long-hours 0.2 --sweep-duration 2  # smoke

4. Task sets (issue 20; ``--tasks-only`` runs just this): the same camera and system on a
   task-set platform (``scenarios/autonomous_brake_rt.yaml``'s tasks, fixed priority,
   20 us per switch) beside the fluid scenario, per job (DNN frames plus task jobs; per
   DNN job too), timed interleaved; and a two-task rate-monotonic set beside SimSo
   (``--simso-python``: SimSo needs SimPy 2, so it lives in its own venv, never a
   dependency). Targets: within 2x of the fluid model per job, 10x faster than SimSo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.toybundle
    sys.path.insert(0, str(ROOT))

SYSTEMS = (  # name (= bundle method), policy
    ("steppingnet", "deadline_aware"), ("anywidth", "deadline_aware"),
    ("slimmable", "pick_at_start"), ("static", "pick_at_start"))
MEMORY_SYSTEM = "steppingnet"
TARGET_US_PER_JOB, TARGET_S_PER_HOUR, TARGET_MEMORY, TARGET_VS_BASELINE = 10.0, 5.0, 1.5, 1.5
SWEEP_DEADLINES_MS = (8, 12, 16, 20, 25, 30, 40, 60)
SWEEP_SEEDS = (1, 2, 3, 4, 5)


def scenario_dict(systems, models: Path, duration_s: float) -> dict:
    """30 fps camera on a platform like ``scenarios/autonomous_brake.yaml``, under a
    Markov budget (normal / power-save / throttled; dwell times of seconds)."""
    return {
        "name": "bench", "seed": 1, "duration_s": duration_s,
        "platform": {"peak_gmacs": 0.4, "stage_overhead_ms": 0.2, "pj_per_mac": 500.0,
                     "idle_w": 0.05},
        "budget": {"kind": "markov", "start": "normal", "modes": {
            "normal": {"budget": 1.0, "dwell_s": [2, 20]},
            "power_save": {"budget": 0.4, "dwell_s": [1, 10]},
            "throttle": {"budget": 0.2, "dwell_s": [1, 5]}}},
        "workload": [{"name": "camera", "kind": "periodic", "period_ms": 33.333,
                      "jitter_ms": 1.0, "deadline_ms": 30, "overrun": "drop_old"}],
        "cost_model": "macs",
        "systems": [{"name": name, "model": str(models / name), "policy": {"name": policy}}
                    for name, policy in systems]}


def write_scenario(folder: Path, systems, duration_s: float, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(systems, folder / "models", duration_s),
                                   sort_keys=False))
    return path


def make_models(folder: Path) -> None:
    from tests.toybundle import make_toy_bundle
    for i, (name, _) in enumerate(SYSTEMS):
        make_toy_bundle(folder / "models" / name, method=name, seed=i, num_samples=1000)


# -- speed ------------------------------------------------------------------------------

def count_simpy(scenario) -> tuple[int, int, int]:
    """(processes, timeouts, records) of one simulation, counted in an untimed run."""
    import simpy

    from testbed.sim.engine import simulate
    counts = {"process": 0, "timeout": 0}

    class Counting(simpy.Environment):
        def process(self, generator):
            counts["process"] += 1
            return super().process(generator)

        def timeout(self, delay, value=None):
            counts["timeout"] += 1
            return super().timeout(delay, value)

    records = [0]
    real, simpy.Environment = simpy.Environment, Counting
    try:
        simulate(scenario, keep=False, on_record=lambda r: records.__setitem__(0, records[0] + 1))
    finally:
        simpy.Environment = real
    return counts["process"], counts["timeout"], records[0]


def time_simulation(scenario, repeat: int) -> float:
    from testbed.sim.engine import simulate
    best = float("inf")
    for _ in range(repeat):
        sink = []
        start = time.process_time()
        simulate(scenario, keep=False, on_record=sink.append)
        best = min(best, time.process_time() - start)
        del sink
    return best


def bare_simpy(processes: int, timeouts: int, period_s: float) -> None:
    """``processes`` processes sharing ``timeouts`` timeouts, no model logic."""
    import simpy
    env = simpy.Environment()

    def loop(n: int):
        for _ in range(n):
            yield env.timeout(period_s)
    for i in range(processes):
        env.process(loop(timeouts // processes + (i < timeouts % processes)))
    env.run()


def time_bare(processes: int, timeouts: int, period_s: float, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        bare_simpy(processes, timeouts, period_s)
        best = min(best, time.process_time() - start)
    return best


def speed(folder: Path, hours: float, repeat: int, baseline: str | None = None) -> dict:
    from testbed.scenario import load_scenario
    out = {}
    for system in SYSTEMS:
        path = write_scenario(folder, [system], hours * 3600, system[0])
        scenario = load_scenario(path)
        processes, timeouts, jobs = count_simpy(scenario)
        sim_s = base_s = float("inf")
        for _ in range(repeat):  # interleaved, so both see the same machine load
            sim_s = min(sim_s, time_simulation(scenario, 1))
            if baseline:
                base_s = min(base_s, time_in_tree(baseline, path))
        bare_s = time_bare(processes, timeouts, 1 / 30, repeat)
        out[system[0]] = {"policy": system[1], "jobs": jobs, "simpy_processes": processes,
                          "simpy_timeouts": timeouts, "sim_cpu_s": round(sim_s, 3),
                          "sim_cpu_s_per_hour": round(sim_s / hours, 3),
                          "us_per_job": round(sim_s / jobs * 1e6, 2),
                          "bare_simpy_cpu_s": round(bare_s, 3),
                          "ratio_to_bare": round(sim_s / bare_s, 2)}
        if baseline:
            out[system[0]].update(baseline_us_per_job=round(base_s / jobs * 1e6, 2),
                                  ratio_to_baseline=round(sim_s / base_s, 2))
    return out


def time_in_tree(tree: str, scenario_path: Path) -> float:
    """CPU seconds of one simulation of ``scenario_path`` by the simulator in ``tree``."""
    out = subprocess.run([sys.executable, __file__, "--speed-child", tree, str(scenario_path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def speed_child(tree: str, scenario_path: str) -> None:
    sys.path.insert(0, str(Path(tree).resolve()))
    for name in [m for m in sys.modules if m == "testbed" or m.startswith("testbed.")]:
        del sys.modules[name]
    from testbed.scenario import load_scenario
    print(time_simulation(load_scenario(scenario_path), 1))


# -- task sets (issue 20) -----------------------------------------------------------------

TASKS_SYSTEM = ("steppingnet", "deadline_aware")
TARGET_VS_FLUID, TARGET_VS_SIMSO = 2.0, 10.0
BRAKE_TASKS = [  # scenarios/autonomous_brake_rt.yaml's tasks
    {"name": "control", "kind": "periodic", "period_ms": 10,
     "execution_ms": {"dist": "uniform", "low": 0.3, "high": 0.8}, "priority": 4},
    {"name": "fusion", "kind": "sporadic", "rate_hz": 10, "min_gap_ms": 50,
     "execution_ms": {"dist": "uniform", "low": 2, "high": 10}, "priority": 3,
     "deadline_ms": 50},
    {"name": "planning", "kind": "periodic", "period_ms": 100, "offset_ms": 5,
     "execution_ms": {"dist": "lognormal", "median": 12, "sigma": 0.3, "max_ms": 25},
     "priority": 2}]
TWO_TASKS = (("control", 10.0, 2.0), ("camera", 33.333, 20.0))  # name, period ms, C ms


def task_scenarios(folder: Path, duration_s: float) -> dict[str, Path]:
    """The fluid bench scenario, the same camera on a task-set platform (the brake tasks,
    20 us per switch), and the two-task set SimSo also runs (the DNN class never arrives:
    only the scheduler is timed)."""
    out = {}
    fluid = scenario_dict([TASKS_SYSTEM], folder / "models", duration_s)
    fluid["workload"][0]["priority"] = 1
    tasks = {**fluid, "budget": {"kind": "tasks", "scheduler": "fixed_priority",
                                 "context_switch_us": 20, "tasks": BRAKE_TASKS}}
    two = {**fluid, "workload": [{"name": "none", "kind": "periodic", "period_ms": 1e9,
                                  "offset_ms": 1e9, "deadline_ms": 30}],
           "budget": {"kind": "tasks", "scheduler": "fixed_priority", "tasks": [
               {"name": n, "kind": "periodic", "period_ms": t, "execution_ms": c,
                "priority": -i} for i, (n, t, c) in enumerate(TWO_TASKS)]}}
    for name, raw in (("fluid", fluid), ("tasks", tasks), ("two_tasks", two)):
        out[name] = folder / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def time_counted(scenario) -> tuple[float, int, int]:
    """(CPU s, DNN jobs, non-DNN task jobs) of one simulation."""
    from testbed.sim.engine import simulate
    count = [0]
    start = time.process_time()
    result = simulate(scenario, keep=False,
                      on_record=lambda r: count.__setitem__(0, count[0] + 1))
    cpu = time.process_time() - start
    tasks = sum(t["jobs"] for system in result.tasks.values() for t in system.values())
    return cpu, count[0], tasks


SIMSO_CHILD = """
import sys, time
from simso.configuration import Configuration
from simso.core import Model
c = Configuration()
c.duration = int(float(sys.argv[1]) * 1000 * c.cycles_per_ms)
for i, (name, period, wcet) in enumerate(%r):
    c.add_task(name=name, identifier=i + 1, period=period, activation_date=0, wcet=wcet,
               deadline=period)
c.add_processor(name="CPU 1", identifier=1)
c.scheduler_info.clas = "simso.schedulers.RM"
c.check_all()
model = Model(c)
start = time.process_time()
model.run_model()
cpu = time.process_time() - start
print(cpu, sum(len(t.jobs) for t in model.results.tasks))
"""


def time_simso(python: str, duration_s: float) -> tuple[float, int]:
    """(CPU s, jobs) of SimSo (in ``python``, where ``import simso`` works) on TWO_TASKS."""
    out = subprocess.run([python, "-c", SIMSO_CHILD % (TWO_TASKS,), str(duration_s)],
                         capture_output=True, text=True, check=True)
    cpu, jobs = out.stdout.split()[-2:]
    return float(cpu), int(jobs)


def simso_python(given: str | None) -> str | None:
    """An interpreter where ``import simso`` works: ``given``, else this one if it can."""
    candidates = [given] if given else [sys.executable]
    for python in candidates:
        ok = subprocess.run([python, "-c", "import simso"], capture_output=True).returncode == 0
        if ok:
            return python
    return None


def task_speed(folder: Path, hours: float, repeat: int, simso: str | None) -> dict:
    """Per-job CPU cost of a task-set platform beside the fluid one (same camera, system
    and duration), and of the two-task set beside SimSo; each pair timed interleaved, so
    both see the same machine load. Best of ``repeat``."""
    from testbed.scenario import load_scenario
    paths = task_scenarios(folder, hours * 3600)
    scenarios = {k: load_scenario(p) for k, p in paths.items()}
    best = {k: (float("inf"), 0, 0) for k in scenarios}
    python = simso_python(simso)
    simso_best = (float("inf"), 0)
    for _ in range(repeat):
        for name, sc in scenarios.items():
            best[name] = min(best[name], time_counted(sc))
        if python:
            simso_best = min(simso_best, time_simso(python, hours * 3600))
    rows = {}
    for name, (cpu, dnn, tasks) in best.items():
        rows[name] = {"cpu_s": round(cpu, 3), "dnn_jobs": dnn, "task_jobs": tasks,
                      "us_per_job": round(cpu / (dnn + tasks) * 1e6, 2),
                      "us_per_dnn_job": round(cpu / dnn * 1e6, 2) if dnn else None}
    out = {"system": "/".join(TASKS_SYSTEM), "simulated_s": hours * 3600, "runs": rows,
           "ratio_tasks_to_fluid_per_job": round(rows["tasks"]["us_per_job"]
                                                 / rows["fluid"]["us_per_job"], 2),
           "ratio_tasks_to_fluid_per_dnn_job": round(rows["tasks"]["us_per_dnn_job"]
                                                     / rows["fluid"]["us_per_dnn_job"], 2),
           "target_vs_fluid": TARGET_VS_FLUID, "two_task_set": [list(t) for t in TWO_TASKS]}
    out["met_vs_fluid"] = out["ratio_tasks_to_fluid_per_job"] <= TARGET_VS_FLUID
    if python:
        cpu, jobs = simso_best
        simso_us = cpu / jobs * 1e6
        out["simso"] = {"python": python, "cpu_s": round(cpu, 3), "jobs": jobs,
                        "us_per_job": round(simso_us, 2)}
        out["speedup_vs_simso_per_job"] = round(simso_us / rows["two_tasks"]["us_per_job"], 1)
        out["target_vs_simso"] = TARGET_VS_SIMSO
        out["met_vs_simso"] = out["speedup_vs_simso_per_job"] >= TARGET_VS_SIMSO
    else:
        out["simso"] = None  # not importable: `pip install simso` in a separate venv
    return out


# -- memory -----------------------------------------------------------------------------

def memory_child(scenario_path: str, jobs_csv: str) -> None:
    """Run in a fresh process: simulate with every job row streamed to ``jobs_csv``;
    print peak RSS (MiB) after loading and at the end."""
    from testbed.report.writers import JobsCsvWriter
    from testbed.scenario import load_scenario
    from testbed.sim.engine import simulate
    scenario = load_scenario(scenario_path)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.process_time()
    with JobsCsvWriter(jobs_csv) as jobs:
        simulate(scenario, keep=False, on_record=lambda r: jobs.write((r,)))
        rows = jobs.rows
    print(json.dumps({"rows": rows, "cpu_s": round(time.process_time() - start, 2),
                      "rss_loaded_mib": round(loaded, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                            / 1024, 1),
                      "jobs_csv_mib": round(os.path.getsize(jobs_csv) / 2**20, 1)}))


def memory(folder: Path, hours: tuple[float, float]) -> dict:
    system = next(s for s in SYSTEMS if s[0] == MEMORY_SYSTEM)
    runs = {}
    for h in hours:
        path = write_scenario(folder, [system], h * 3600, f"memory-{h:g}h")
        csv_path = folder / f"jobs-{h:g}h.csv"
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(path), str(csv_path)],
                               capture_output=True, text=True, check=True)
        runs[f"{h:g}h"] = json.loads(child.stdout)
        csv_path.unlink()
    short, long = (runs[f"{h:g}h"] for h in hours)
    return {"system": MEMORY_SYSTEM, "runs": runs,
            "ratio": round(long["peak_rss_mib"] / short["peak_rss_mib"], 3)}


# -- sweep ------------------------------------------------------------------------------

def sweep(folder: Path, duration_s: float, workers: tuple[int, ...]) -> dict:
    from testbed.sweep.runner import run_sweep
    from testbed.sweep.spec import load_sweep
    write_scenario(folder, SYSTEMS, duration_s, "sweep-base")
    (folder / "sweep.yaml").write_text(yaml.safe_dump({
        "name": "bench", "base": "sweep-base.yaml",
        "grid": {"workload.0.deadline_ms": list(SWEEP_DEADLINES_MS), "seed": list(SWEEP_SEEDS)}}))
    spec = load_sweep(folder / "sweep.yaml")
    wall, tables = {}, {}
    for n in workers:
        out = folder / f"sweep-{n}"
        start = time.perf_counter()
        outcome = run_sweep(spec, out, "local", n, progress=False)
        wall[n] = time.perf_counter() - start
        assert not outcome.failed, outcome.failed
        tables[n] = sorted(json.dumps(r, sort_keys=True) for r in outcome.rows)
    one, two = workers
    return {"points": len(spec.points()), "systems": len(SYSTEMS),
            "simulated_s_per_point": duration_s,
            "wall_s": {str(n): round(s, 2) for n, s in wall.items()},
            "speedup": round(wall[one] / wall[two], 2),
            "efficiency": round(wall[one] / wall[two] / (two / one), 2),
            "identical_rows": tables[one] == tables[two]}


# -- main -------------------------------------------------------------------------------

def host() -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import simpy
    return {"python": platform.python_version(), "simpy": simpy.__version__,
            "machine": platform.machine(), "processor": platform.processor() or None,
            "cores": cores, "load_avg_1m": round(os.getloadavg()[0], 2)}


def verdict(doc: dict) -> dict:
    systems = list(doc["speed"].values())
    out = {"us_per_job_max": max(s["us_per_job"] for s in systems),
           "us_per_job_target": TARGET_US_PER_JOB,
           "ratio_to_bare_max": max(s["ratio_to_bare"] for s in systems)}  # target retired
    if "ratio_to_baseline" in systems[0]:
        worst = max(s["ratio_to_baseline"] for s in systems)
        out.update(ratio_to_baseline_max=worst, ratio_to_baseline_target=TARGET_VS_BASELINE,
                   ratio_to_baseline_met=worst <= TARGET_VS_BASELINE)
    return {**out,
            "s_per_hour_max": max(s["sim_cpu_s_per_hour"] for s in systems),
            "s_per_hour_target": TARGET_S_PER_HOUR,
            "s_per_hour_met": all(s["sim_cpu_s_per_hour"] < TARGET_S_PER_HOUR for s in systems),
            "memory_ratio": doc["memory"]["ratio"], "memory_target": TARGET_MEMORY,
            "memory_met": doc["memory"]["ratio"] <= TARGET_MEMORY}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=1.0, help="simulated hours for the speed test")
    p.add_argument("--repeat", type=int, default=3, help="timings per figure (best is kept)")
    p.add_argument("--long-hours", type=float, default=24.0, help="long run of the memory test")
    p.add_argument("--sweep-duration", type=float, default=60.0,
                   help="simulated seconds per sweep point")
    p.add_argument("--out")
    p.add_argument("--baseline", help="checkout of an earlier commit to time beside this one")
    p.add_argument("--tasks-only", action="store_true",
                   help="only the task-set comparison (issue 20), written to "
                        "reports/bench/bench_sim_tasks.json unless --out is given")
    p.add_argument("--simso-python", help="an interpreter where `import simso` works (SimSo "
                   "needs SimPy 2: install it in its own venv); default: this one, if it can")
    p.add_argument("--memory-child", nargs=2, metavar=("SCENARIO", "JOBS_CSV"), help=argparse.SUPPRESS)
    p.add_argument("--speed-child", nargs=2, metavar=("TREE", "SCENARIO"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0
    if args.speed_child:
        speed_child(*args.speed_child)
        return 0
    words = argv if argv is not None else sys.argv[1:]
    shown = [w for i, w in enumerate(words) if "--out" not in (w.split("=")[0], words[i - 1] if i else "")]
    command = " ".join(["python scripts/bench_sim.py", *shown])
    default = "bench_sim_tasks.json" if args.tasks_only else "bench_sim.json"
    with tempfile.TemporaryDirectory(prefix="bench_sim-") as tmp:
        folder = Path(tmp)
        make_models(folder)
        doc = {"command": command, "host": host()}
        if not args.tasks_only:
            doc.update(speed=speed(folder, args.hours, args.repeat, args.baseline),
                       memory=memory(folder, (args.hours, args.long_hours)),
                       sweep=sweep(folder, args.sweep_duration, (1, 2)))
        doc["tasks"] = task_speed(folder, args.hours, args.repeat, args.simso_python)
    if not args.tasks_only:
        doc["verdict"] = verdict(doc)
    text = json.dumps(doc, indent=2)
    print(text)
    out = Path(args.out or ROOT / "reports" / "bench" / default)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
