"""`testbed validate`: simulate a scenario and run it for real on this host; compare.

A thin layer over :mod:`testbed.validate`: it loads the scenario (``--set``, ``--seed``,
``--duration``, ``--systems`` as ``testbed run``), checks the rest (mechanism, core,
period, data root, output folder) before anything runs, then validates and writes
``validation.json``, ``report.md`` and a figure atomically. Prints the side-by-side table
on stdout; the mechanism, progress bar (on a terminal) and what was written on stderr.
"""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path

from ..errors import TestbedError

HELP = ("Run a scenario for real on this host (ONNX Runtime, one core) and compare it "
        "with its simulation.")

EPILOG = """\
examples:
  testbed validate scenarios/host_validation.yaml                 # reports/host_validation/
  testbed validate scenarios/host_validation.yaml --mechanism dilation --out /tmp/v
  testbed validate scenarios/host_validation.yaml --duration 5 --systems steppingnet

Every frame arrives on the wall clock; its job runs the bundle's stage graphs in ONNX
Runtime (one thread) in this process pinned to one core, the system's policy deciding
between stages. The budget trace is imposed by a co-runner (a SCHED_FIFO process on the
same core taking 1 - budget of every --period-ms) where the OS allows real-time
scheduling, else (or with --mechanism dilation) by time dilation: each measured stage is
stretched by the trace on a virtual clock. Run it on a quiet machine: other processes on
the core are contention the simulator does not know about.
"""


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", help="report folder (default reports/<scenario name>/)")
    p.add_argument("--mechanism", default="auto", choices=("auto", "corunner", "dilation"),
                   help="how the budget is imposed (default auto: the co-runner where "
                   "SCHED_FIFO is allowed, else dilation)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--duration", type=float, help="seconds of frames (overrides duration_s)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a scenario value (VALUE is YAML; repeatable)")
    p.add_argument("--systems", metavar="A,B", help="validate only these systems")
    p.add_argument("--core", type=int, help="core to pin to (default: the last one allowed)")
    p.add_argument("--period-ms", type=float, default=0.25,
                   help="co-runner duty-cycle period in ms (default 0.25)")
    p.add_argument("--overhead-us", type=float, help="shorten each co-runner spin by this "
                   "many µs (default: measured before the run; 0: the full share)")
    p.add_argument("--idle", default="spin", choices=("spin", "sleep"),
                   help="how the real executor waits for the next frame: spin (default: "
                   "the core stays warm, as in calibration) or sleep (it spins only the "
                   "last 0.2 ms; a core that idled runs the next stage slower)")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="run every system for real N times (default 3); the report gives "
                   "each system's median repeat, and the target must hold in most")
    p.add_argument("--probe-s", type=float, default=2.0, metavar="S",
                   help="watch the core's steadiness for S seconds before and after the "
                   "runs, with a fixed loop independent of any model (default 2; 0: no)")
    p.add_argument("--data-root", help="run on the real images of this dataset root "
                   "(default: replay eval.npz verdicts on a fixed input)")
    p.add_argument("--dry-run", action="store_true",
                   help="simulate only: print each system's simulated figures and how often "
                   "the simulator agrees with itself job by job on independent "
                   "execution-time draws (the most a real run can be expected to agree); "
                   "run nothing for real, write nothing")


def command_line(args) -> str:
    words = ["testbed", "validate", args.scenario]
    for flag, value in (("--out", args.out), ("--seed", args.seed),
                        ("--duration", args.duration), ("--systems", args.systems),
                        ("--core", args.core), ("--data-root", args.data_root)):
        if value is not None:
            words += [flag, str(value)]
    if args.mechanism != "auto":
        words += ["--mechanism", args.mechanism]
    if args.overhead_us is not None:
        words += ["--overhead-us", f"{args.overhead_us:g}"]
    if args.idle != "spin":
        words += ["--idle", args.idle]
    if args.repeat != 3:
        words += ["--repeat", str(args.repeat)]
    if args.probe_s != 2.0:
        words += ["--probe-s", f"{args.probe_s:g}"]
    if args.period_ms != 0.25:
        words += ["--period-ms", f"{args.period_ms:g}"]
    for text in args.set or ():
        words += ["--set", text]
    return shlex.join(words)


def _check(args) -> None:
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise TestbedError(f"--duration: expected a positive number of seconds, "
                           f"got {args.duration}")
    if not (math.isfinite(args.period_ms) and 0.05 <= args.period_ms <= 100):
        raise TestbedError(f"--period-ms: expected a period in [0.05, 100] ms, "
                           f"got {args.period_ms}")
    if args.overhead_us is not None and not (math.isfinite(args.overhead_us)
                                             and 0 <= args.overhead_us < args.period_ms * 1e3):
        raise TestbedError(f"--overhead-us: expected a number of µs in [0, --period-ms), "
                           f"got {args.overhead_us}")
    if not (math.isfinite(args.probe_s) and 0 <= args.probe_s <= 60):
        raise TestbedError(f"--probe-s: expected seconds in [0, 60], got {args.probe_s}")
    if not 1 <= args.repeat <= 100:
        raise TestbedError(f"--repeat: expected a number of runs in [1, 100], got {args.repeat}")
    if args.data_root is not None and not Path(args.data_root).is_dir():
        raise TestbedError(f"--data-root: {args.data_root}: folder not found")


def plan(args):
    """(scenario, output folder, live runner) — validated, nothing written."""
    from .. import api
    from ..report.writers import check_replaceable
    from .run import systems_arg
    _check(args)
    scenario = api.load(args.scenario, overrides=args.set or (), seed=args.seed,
                        duration_s=args.duration, systems=systems_arg(args.systems))
    out = check_replaceable(args.out or Path("reports") / scenario.name)
    live = None
    if args.data_root is not None:
        from ..sim.live import LiveRunner
        live = LiveRunner(args.data_root, threads=1)
    return scenario, out, live


def run(args):
    from ..validate import ceiling, report
    from ..validate.validation import check_budget, tuned, validate
    scenario, out, live = plan(args)
    if args.dry_run:
        check_budget(scenario)        # (validate itself checks it too)
        print(dry_run(tuned(scenario)[0]))
        return 0
    before = report.host()
    for warning in report.model_warnings(scenario, before.get("vector")):
        print(f"testbed validate: warning: {warning}", file=sys.stderr)
    if not any(s.candidates for s in scenario.systems):  # (tuned ones: in the report)
        for warning in ceiling.warnings(ceiling.scenario_ceilings(scenario)):
            print(f"testbed validate: warning: {warning}", file=sys.stderr)
    v = validate(scenario, mechanism=args.mechanism, live=live, core=args.core,
                 period_s=args.period_ms / 1e3, idle=args.idle, progress=True,
                 overhead_us=args.overhead_us, repeats=args.repeat, probe_s=args.probe_s)
    print(f"mechanism: {v.mechanism.name} ({v.mechanism.reason}), core {v.core}",
          file=sys.stderr)
    doc = report.write(v, out, command_line(args), before)
    print(summary(doc))
    for name, why in doc["skipped"].items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(f"report: {out}", file=sys.stderr)
    return 0


def dry_run(scenario) -> str:
    """The simulation's figures per system and its agreement with itself (no real run)."""
    from ..sim import engine
    from ..validate import ceiling, compare
    result = engine.simulate(scenario, scenario.seed)
    ceilings = ceiling.scenario_ceilings(scenario, base=result) or {}
    rows = ["system           hit %   acc %  steps  p95 ms  sim vs itself"]
    for name in result.systems:
        x = compare.side([r for r in result.records if r.system == name])
        own = ceilings.get(name)
        rows.append(f"{name:<16} {_p(x['hit_rate'])}  {_p(x['accuracy_at_deadline'])}  "
                    f"{x['mean_steps']:5.2f}  {_ms(x['p95_ms'])}  "
                    + ("—   (no execution-time variability)" if own is None
                       else f"{100 * own:5.1f} %"))
    rows.append(f"sim vs itself: per-job agreement of the simulation with itself on "
                f"independent execution-time draws (median of {ceiling.REDRAWS}); the real "
                f"run's target is {100 * compare.TARGET_AGREEMENT:g} %")
    rows += [f"warning: {w}" for w in ceiling.warnings(ceilings)]
    return "\n".join(rows)


def _ms(x) -> str:
    return "   —  " if x is None else f"{x:6.3f}"


def summary(doc: dict) -> str:
    rows = ["system           hit sim/real  Δpts   acc sim/real  Δpts  agreement  met in"
            "  at host speed  at tracked speed"]
    for name, x in doc["systems"].items():
        a, b, d = x["sim"], x["real"], x["difference"]
        rows.append(f"{name:<16} {_p(a['hit_rate'])}/{_p(b['hit_rate'])} {_d(d['hit_rate'])} "
                    f"{_p(a['accuracy_at_deadline'])}/{_p(b['accuracy_at_deadline'])} "
                    f"{_d(d['accuracy_at_deadline'])}  {_p(x['agreement'])} %    "
                    f"{x['met_repeats']}/{len(x['repeats'])}    "
                    + (f"{x['met_scaled_repeats']}/{len(x['repeats'])}"
                       if "met_scaled_repeats" in x else "— ")
                    + "            "
                    + (f"{x['met_tracked_repeats']}/{len(x['repeats'])}"
                       if "met_tracked_repeats" in x else "—"))
    rows.append(f"target (|Δ| <= 2 pts, agreement >= 90 %, in most repeats; figures: the "
                f"median repeat): {'met' if doc['met'] else 'not met'}")
    own = {name: x.get("self_agreement") for name, x in doc["systems"].items()}
    if any(v is not None for v in own.values()):
        rows.append("per-job agreement of the simulation with itself on independent "
                    "execution-time draws (the most to expect): "
                    + ", ".join(f"{name} {_p(v).strip()} %" for name, v in own.items()))
    probe = doc.get("probe") or {}
    if probe:
        from ..steadiness import describe
        rows.append(f"core steadiness ({describe(probe)}); a quiet core has no slow windows")
    systems = doc["systems"].values()
    if systems and all("rig_held_repeats" in x for x in systems):
        from ..validate.validation import RIG_TOLERANCE
        rows.append(f"co-runner held its budget (check within {RIG_TOLERANCE:g}) in "
                    f"{sum(x['rig_held_repeats'] for x in systems)} of "
                    f"{sum(len(x['repeats']) for x in systems)} repeats; of those "
                    f"{sum(x['met_rig_held_repeats'] for x in systems)} met the target")
    if doc.get("met_scaled") is not None:
        rows.append("simulated at the host speed measured around each run: "
                    f"{'met' if doc['met_scaled'] else 'not met'}")
    if doc.get("met_tracked") is not None:
        from ..steadiness import WINDOW_S
        rows.append(f"simulated at the speed the run's own steps showed ({WINDOW_S * 1e3:g} "
                    f"ms windows; not a test of absolute speed): {'met' if doc['met_tracked'] else 'not met'}")
    return "\n".join(rows)


def _p(x) -> str:
    return "  —  " if x is None else f"{100 * x:5.1f}"


def _d(x) -> str:
    return "  —  " if x is None else f"{x:+5.1f}"
