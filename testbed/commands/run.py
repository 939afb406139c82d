"""`testbed run`: simulate a scenario over seeds (and deadlines) and write a report folder.

A thin layer over :mod:`testbed.api`: it turns the arguments into an :func:`api.load`
call (the scenario with ``--set`` overrides, ``--seed``, ``--duration``, ``--trace`` and
``--systems``), checks the rest (seeds, deadlines, the output folder, ``--live``), then
:func:`api.write_report` tunes every system whose policy is a grid or ``auto`` on the
tuning seeds (:mod:`testbed.tuning`, disjoint from the evaluation seeds), simulates each
evaluation seed — and each seed and deadline for ``--deadlines``, each deadline tuned on
its own — and writes ``reports/<scenario>/`` atomically. All input is validated before
anything is simulated or written. Prints the summary table on stdout; notes, the progress
bar (only on a terminal) and what was written on stderr.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..api import JOBS_MODES
from ..errors import TestbedError

HELP = "Simulate a scenario: every system under the same budget trace and frames; write a report."

EPILOG = """\
examples:
  testbed run scenarios/autonomous_brake.yaml                  # tune, simulate 5 seeds, report
  testbed run scenarios/autonomous_brake.yaml --seeds 10 --out /tmp/brake
  testbed run scenarios/autonomous_brake.yaml --trace my_drive.csv --duration 120
  testbed run scenarios/autonomous_brake.yaml --deadlines 10,20,30   # hit-rate curve
  testbed run scenarios/autonomous_brake.yaml --systems steppingnet,static --out /tmp/two
  testbed run scenarios/autonomous_brake.yaml --set workload.camera.deadline_ms=25 \\
      --set 'systems.static.policy={name: pick_at_start, margin: 1.0}' --out /tmp/d25
  testbed run scenarios/autonomous_brake.yaml --set bounds=[] --set quality=0.6
  testbed run scenarios/autonomous_brake.yaml --duration 3600 --jobs sample
  testbed run scenarios/autonomous_brake.yaml --live --data-root ../shared/data

Systems whose policy is a grid (tune:) or auto are tuned first on tuning seeds (from
1000000 on), disjoint from the evaluation seeds (--seed .. --seed + --seeds - 1), by the
scenario's objective; each --deadlines value is tuned on its own. --trace replaces the
scenario's budget with a CSV (time_s,budget as fractions of peak, or time_s,gmacs).
--live runs the ONNX stage graphs on the real images instead of replaying eval.npz.

--set PATH=VALUE (repeatable) edits the scenario before it is validated; VALUE is YAML
(1.0, true, [0, 0.5], {name: greedy}); list items are named by index or by their name
(systems.static, workload.camera); every part of PATH must exist but the last, which may
add a key the file leaves out. --systems A,B keeps those systems (names or indices), in
scenario order; their bounds (NAME@budget_oracle) follow; if the reference is dropped,
the first kept system becomes the reference (said on stderr); the quality bar stays the
whole scenario's. --jobs: full (default) writes jobs.csv, gzip-compressed to jobs.csv.gz
when the run has more than 200,000 job rows; sample writes jobs_sample.csv with each
system's first 1000 jobs of the first seed; none writes no jobs file.
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
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a scenario value (VALUE is YAML; repeatable), e.g. "
                   "workload.camera.deadline_ms=25")
    p.add_argument("--systems", metavar="A,B", help="keep only these systems (names or "
                   "indices); their bounds follow")
    p.add_argument("--jobs", choices=JOBS_MODES, help="job rows to write: full (default; "
                   "jobs.csv.gz above 200,000 rows), sample (each system's first 1000 jobs "
                   "of the first seed) or none")
    p.add_argument("--live", action="store_true", help="run the ONNX stages on real images")
    p.add_argument("--data-root", help="dataset root for --live (default $TESTBED_DATA)")


@dataclass(frozen=True)
class Plan:
    """A validated run: what to simulate and where the report goes."""

    scenario: object                      # testbed.scenario.Scenario (overridden, selected)
    deadlines: tuple[float, ...]          # --deadlines, sorted
    seeds: tuple[int, ...]                # evaluation seeds
    out: Path
    live: object
    jobs: str                             # one of JOBS_MODES
    command: str
    notes: tuple[str, ...] = ()           # lines for stderr before the run


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
    for text in args.set or ():
        words += ["--set", text]
    for flag, value in (("--systems", args.systems), ("--jobs", args.jobs)):
        if value is not None:
            words += [flag, value]
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


def systems_arg(text: str | None) -> list[str] | None:
    """``"a, b,2"`` -> ``["a", "b", "2"]`` (None: keep every system)."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise TestbedError(f"--systems: expected comma-separated system names or indices, "
                           f"got {text!r}")
    return names


def plan(args) -> Plan:
    """Validate every argument and load the scenario; writes nothing."""
    from .. import api
    from ..report.writers import check_replaceable

    _check_numbers(args)
    deadlines = parse_deadlines(args.deadlines)
    root = live_root(args)
    keep = systems_arg(args.systems)
    scenario = api.load(args.scenario, overrides=args.set or (), seed=args.seed,
                        duration_s=args.duration, trace=args.trace)
    notes = [trace_note(scenario)]
    if keep is not None:
        try:
            selected = api.select(scenario, keep)
        except TestbedError as exc:
            raise TestbedError(f"--systems: {exc}") from None
        if selected.reference != scenario.reference:
            notes.append(f"--systems: the reference {scenario.reference} is not kept; paired "
                         f"differences are against {selected.reference}")
        scenario = selected
    out = check_replaceable(args.out or Path("reports") / scenario.name)
    live = None if root is None else _live_runner(root)
    seeds = api.evaluation_seeds(scenario, args.seeds)
    return Plan(scenario, deadlines, seeds, out, live, args.jobs or "full", command_line(args),
                tuple(n for n in notes if n))


def trace_note(scenario) -> str | None:
    """One line on what the run gets past the end of a trace file (None: it covers it)."""
    from ..sim.trace import after_note
    trace = getattr(scenario.budget, "trace", None)
    return None if trace is None else after_note(trace, scenario.duration_s)


def jobs_line(written) -> str:
    """One line for stderr on the jobs file a run wrote."""
    if written.jobs_file is None:
        return f"jobs: {written.jobs_note}"
    return f"jobs: {written.jobs_file}: {written.jobs_note}"


def run(args):
    from .. import api
    from ..report.table import summary_table

    p = plan(args)
    for note in p.notes:
        print(note, file=sys.stderr)
    written = api.write_report(p.scenario, p.out, seeds=p.seeds, deadlines=p.deadlines,
                               jobs=p.jobs, live=p.live, command=p.command, progress=True)
    print(summary_table(written.report.summaries))
    print(jobs_line(written), file=sys.stderr)
    print(f"report: {p.out}", file=sys.stderr)
    return 0
