"""`testbed run`: simulate a scenario over seeds (and deadlines) and write a report folder.

Reads a scenario YAML (and the model bundles it names) through :mod:`testbed.scenario`,
first tunes every system whose policy is a grid or ``auto`` on the tuning seeds
(:mod:`testbed.tuning`, disjoint from the evaluation seeds), then runs
:func:`testbed.sim.engine.simulate` once per evaluation seed — and once per seed and
deadline for ``--deadlines``, each deadline tuned on its own — and writes
``reports/<scenario>/`` atomically through :mod:`testbed.report.writers`. All input is
validated (scenario, every deadline variant, the output folder) before anything is
simulated or written.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import TestbedError

HELP = "Simulate a scenario: every system under the same budget trace and frames; write a report."

EPILOG = """\
examples:
  testbed run scenarios/autonomous_brake.yaml                  # tune, simulate 5 seeds, report
  testbed run scenarios/autonomous_brake.yaml --seeds 10 --out /tmp/brake
  testbed run scenarios/autonomous_brake.yaml --trace my_drive.csv --duration 120
  testbed run scenarios/autonomous_brake.yaml --deadlines 10,20,30   # hit-rate curve
  testbed run scenarios/autonomous_brake.yaml --live --data-root ../shared/data

Systems whose policy is a grid (tune:) or auto are tuned first on tuning seeds (from
1000000 on), disjoint from the evaluation seeds (--seed .. --seed + --seeds - 1), by the
scenario's objective; each --deadlines value is tuned on its own. --trace replaces the
scenario's budget with a CSV (time_s,budget as fractions of peak, or time_s,gmacs).
--live runs the ONNX stage graphs on the real images instead of replaying eval.npz.
"""


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--trace", help="budget trace CSV overriding the scenario's budget")
    p.add_argument("--out", help="report folder (default reports/<scenario name>/)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--seeds", type=int, help="evaluation runs with seeds seed..seed+N-1 "
                   "(default: the scenario's seeds, else 1)")
    p.add_argument("--duration", type=float, help="simulated seconds (overrides duration_s)")
    p.add_argument("--deadlines", help="comma-separated deadlines in ms for a hit-rate curve")
    p.add_argument("--live", action="store_true", help="run the ONNX stages on real images")
    p.add_argument("--data-root", help="dataset root for --live (default $TESTBED_DATA)")


@dataclass(frozen=True)
class Plan:
    """A validated run: what to simulate and where the report goes."""

    scenario: object                      # testbed.scenario.Scenario
    variants: tuple[tuple[float, object], ...]   # (deadline_ms, scenario) for --deadlines
    seeds: tuple[int, ...]                # evaluation seeds
    tuning_seeds: tuple[int, ...]         # disjoint from ``seeds``
    out: Path
    live: object
    command: str


def parse_deadlines(text: str | None) -> tuple[float, ...]:
    """``"10,20,40"`` -> (10.0, 20.0, 40.0), sorted; each a positive finite number of ms."""
    if text is None:
        return ()
    values = []
    for item in text.split(","):
        try:
            value = float(item.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise TestbedError(f"--deadlines: expected comma-separated positive numbers of "
                               f"milliseconds, e.g. 10,20,40; got {item.strip()!r} in {text!r}")
        values.append(value)
    if len(set(values)) != len(values):
        raise TestbedError(f"--deadlines: expected distinct values, got {text!r}")
    return tuple(sorted(values))


def command_line(args) -> str:
    """The command as a canonical string built from the parsed arguments (so it does
    not depend on how the program was invoked)."""
    words = ["testbed", "run", args.scenario]
    for flag, value in (("--trace", args.trace), ("--out", args.out), ("--seed", args.seed),
                        ("--duration", args.duration), ("--deadlines", args.deadlines),
                        ("--data-root", args.data_root)):
        if value is not None:
            words += [flag, str(value)]
    if args.seeds is not None:
        words += ["--seeds", str(args.seeds)]
    if args.live:
        words.append("--live")
    return shlex.join(words)


def _check_numbers(args) -> None:
    if args.seeds is not None and args.seeds < 1:
        raise TestbedError(f"--seeds: expected a positive number of seeds, got {args.seeds}")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise TestbedError(f"--duration: expected a positive number of seconds, got {args.duration}")
    from ..bundle import is_file
    if args.trace is not None and not is_file(Path(args.trace)):
        raise TestbedError(f"--trace: {args.trace}: file not found")


def live_root(args) -> str | None:
    """The dataset root for ``--live`` (None: replay ``eval.npz``)."""
    if not args.live:
        if args.data_root is not None:
            raise TestbedError("--data-root: only meaningful with --live")
        return None
    root = args.data_root or os.environ.get("TESTBED_DATA")
    if not root:
        raise TestbedError("--live: expected --data-root DIR or $TESTBED_DATA")
    if not Path(root).is_dir():
        raise TestbedError(f"--data-root: {root}: folder not found")
    return root


def _live_runner(root: str):
    try:
        from ..sim.live import LiveRunner
    except ImportError:
        raise TestbedError("--live: live mode is not available in this installation "
                           "(testbed.sim.live is missing)") from None
    return LiveRunner(root)


def plan(args) -> Plan:
    """Validate every argument and load every scenario variant; writes nothing."""
    from ..report.writers import check_replaceable
    from ..scenario import load_scenario
    from ..tuning import check_disjoint, tuning_seeds

    _check_numbers(args)
    deadlines = parse_deadlines(args.deadlines)
    root = live_root(args)
    common = dict(seed=args.seed, duration_s=args.duration, trace_path=args.trace)
    scenario = load_scenario(args.scenario, **common)
    variants = tuple(
        (d, load_scenario(args.scenario, overrides={f"workload.{i}.deadline_ms": d
                                                    for i in range(len(scenario.workload))},
                          **common))
        for d in deadlines)
    out = check_replaceable(args.out or Path("reports") / scenario.name)
    live = None if root is None else _live_runner(root)
    seeds = tuple(range(scenario.seed, scenario.seed + (args.seeds or scenario.seeds)))
    tuning = tuning_seeds(scenario.tuning.seeds)
    check_disjoint(seeds, tuning)
    return Plan(scenario, variants, seeds, tuning, out, live, command_line(args))


def _simulate(scenario, seeds, live, progress, jobs=None, timeline=False):
    """Run every seed of one scenario variant; returns its :class:`RunCollector`.

    Stage events (several per job) are not kept: only, with ``timeline``, those of the
    first seed inside the plotted window. Each seed's job records are kept while its
    metrics are computed (exact percentiles need them all), then written and dropped."""
    from ..report.collect import RunCollector
    from ..sim.engine import simulate

    names = [s.name for s in scenario.systems]
    collector = RunCollector(names, idle_w=scenario.platform.idle_w, duration_s=scenario.duration_s,
                             jobs=jobs, quality_bar=scenario.quality_bar, mk=scenario.mk)
    for seed in seeds:
        events: list = []
        sink = _window_sink(collector.window, events) if timeline and not collector.seeds else None
        result = simulate(scenario, seed=seed, live=live, keep_events=False, on_event=sink)
        collector.add(seed, result.records, events, result)
        progress.update()
    return collector


def _window_sink(window: tuple[float, float], into: list):
    """A sink keeping the stage events that overlap ``window``."""
    t0, t1 = window

    def sink(event) -> None:
        if event.end_s >= t0 and event.start_s <= t1:
            into.append(event)
    return sink


BOUND_NOTES = {"budget_oracle": "budget oracle: knows the future budget, not the answer",
               "oracle": "oracle: knows the future budget and which answer is right"}


def _system_info(system, agreement: dict, tuning: dict) -> dict:
    from ..tuning import policy_name

    manifest = system.bundle.manifest
    policy = policy_name(system.policy)
    info = {"bundle": manifest.name, "method": manifest.method, "policy": policy,
            "policy_params": dataclasses.asdict(system.policy)}
    if system.name in tuning:
        info["tuning"] = tuning[system.name]
    if system.bound_of is not None:
        info["bound"] = BOUND_NOTES[policy]
        info["bound_of"] = system.bound_of
    if system.name in agreement:
        info["live_agreement"] = agreement[system.name]
    return info


def _deadlines_ms(scenario) -> tuple[float, ...]:
    return tuple(dict.fromkeys(w.deadline_ms for w in scenario.workload))


def _budget(trace, until_s: float, peak_gmacs: float):
    """(times_s, budget fraction) of the simulator's trace over the plotted window."""
    from ..report.collect import budget_steps

    scale = 1.0 if trace.column == "budget" else 1.0 / peak_gmacs
    return budget_steps(trace.time_s, trace.value, until_s,
                        repeat=trace.after == "repeat", scale=scale)


def build_report(p: Plan, main, curve, wall_s: float, tuning: dict | None = None,
                 scenario=None):
    """The :class:`~testbed.report.document.Report` of a finished run (``scenario``: the
    tuned scenario, default the plan's; ``tuning``: what tuning tried, per system)."""
    from ..report.document import Report

    sc = scenario or p.scenario
    return Report(
        scenario=sc.name, scenario_file=str(sc.path), command=p.command, seeds=p.seeds,
        duration_s=sc.duration_s, summaries=main.summaries(),
        description=sc.description,
        systems_info={s.name: _system_info(s, main.first.live_agreement, tuning or {})
                      for s in sc.systems},
        reference=sc.reference, quality_bar=sc.quality_bar, mk=sc.mk, objective=sc.objective,
        curve=curve, manifests={s.name: s.bundle.manifest for s in sc.systems},
        latencies_s=main.latencies_s, workload_deadlines_ms=_deadlines_ms(sc),
        events=main.events, events_seed=p.seeds[0],
        budget=_budget(main.first.trace, main.window[1], sc.platform.peak_gmacs),
        window=main.window, wall_s=wall_s)


def _progress(total: int):
    from tqdm import tqdm
    return tqdm(total=total, unit="run", desc="tuning and simulating", file=sys.stderr,
                disable=True if total <= 1 else None, leave=False)


def trace_note(scenario) -> str | None:
    """One line on what the run gets past the end of a trace file (None: it covers it)."""
    from ..sim.trace import after_note
    trace = getattr(scenario.budget, "trace", None)
    return None if trace is None else after_note(trace, scenario.duration_s)


def _tuned(scenario, p: Plan, progress):
    """``scenario`` with each tuned system's chosen setting, and the tuning records."""
    from ..tuning import tune
    return tune(scenario, p.tuning_seeds, quality_bar=scenario.quality_bar,
                progress=progress.update)


def _tuned_count(scenario) -> int:
    return sum(len(s.candidates) > 1 for s in scenario.systems)


def run(args):
    from ..report.table import summary_table
    from ..report.writers import JobsCsvWriter, atomic_folder, write_report

    start = time.perf_counter()
    p = plan(args)
    note = trace_note(p.scenario)
    if note:
        print(note, file=sys.stderr)
    steps = (len(p.seeds) + _tuned_count(p.scenario)) * (1 + len(p.variants))
    with _progress(steps) as progress:
        with atomic_folder(p.out) as tmp:
            scenario, tuning = _tuned(p.scenario, p, progress)
            with JobsCsvWriter(tmp / "jobs.csv") as jobs:
                main = _simulate(scenario, p.seeds, p.live, progress, jobs, timeline=True)
            curve = [(d, _simulate(_tuned(sc, p, progress)[0], p.seeds, p.live,
                                   progress).summaries())
                     for d, sc in p.variants]
            report = build_report(p, main, curve, time.perf_counter() - start, tuning,
                                  scenario)
            write_report(tmp, report, trace=main.first.trace)
    print(summary_table(report.summaries))
    print(f"report: {p.out}", file=sys.stderr)
    return 0
