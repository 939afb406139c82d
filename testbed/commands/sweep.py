"""`testbed sweep SWEEP.yaml`: a grid of scenario variants, run in parallel, into one table
(rows.csv, rows.jsonl) and a report. Interrupted sweeps resume where they stopped."""

from __future__ import annotations

import shlex
import sys

HELP = "Run a grid of scenario variants (deadlines, platforms, policies, seeds) in parallel."

EPILOG = """\
examples:
  testbed sweep scenarios/sweeps/brake_deadlines.yaml --workers 4
  testbed sweep scenarios/sweeps/brake_deadlines.yaml --executor dask --address tcp://host:8786

Re-running the same command resumes: points already in rows.jsonl are not run again.
Results do not depend on the executor or the number of workers.
"""


def add_arguments(p):
    p.add_argument("sweep", help="sweep YAML file (base: scenario, grid: {path: [values]})")
    p.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="where points run: local (default) = a process pool on this machine; "
                        "dask = a Dask cluster, started here (--workers processes) or an "
                        "existing one at --address; needs pip install -e '.[dask]'")
    p.add_argument("--workers", type=int,
                   help="worker processes (default: all cores; 1 runs in this process)")
    p.add_argument("--address", help="existing Dask scheduler, e.g. tcp://host:8786 "
                                     "(--executor dask only)")
    p.add_argument("--out", help="output folder (default reports/sweeps/<name>/)")
    p.add_argument("--duration", type=float, help="override duration_s of every point")


def command_line(args) -> str:
    """The command as a canonical string built from the parsed arguments (so it does not
    depend on how the program was invoked)."""
    words = ["testbed", "sweep", args.sweep]
    if args.executor != "local":
        words += ["--executor", args.executor]
    for flag, value in (("--workers", args.workers), ("--address", args.address),
                        ("--out", args.out), ("--duration", args.duration)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def run(args):
    from pathlib import Path

    from ..cli import need
    from ..errors import TestbedError
    from ..sweep.report import write_report
    from ..sweep.runner import run_sweep
    from ..sweep.spec import load_sweep
    if args.workers is not None and args.workers < 1:
        raise TestbedError("--workers: expected a number >= 1")
    if args.duration is not None and not args.duration > 0:
        raise TestbedError("--duration: expected seconds > 0")
    if args.executor == "dask":
        for module in ("dask", "distributed"):
            need(module, "dask", "--executor dask")
    spec = load_sweep(args.sweep)
    out = Path(args.out) if args.out else Path("reports") / "sweeps" / spec.name
    outcome = run_sweep(spec, out, args.executor, args.workers, args.address, args.duration)
    write_report(out, spec, outcome.rows, outcome.failed, command_line(args))
    if outcome.stale:
        print(f"sweep {spec.name}: discarded {outcome.stale} row(s) computed from other inputs "
              f"(a changed scenario, bundle, profile or trace); their points run again",
              file=sys.stderr)
    print(f"sweep {spec.name}: {outcome.total} points ({outcome.skipped} already done, "
          f"{outcome.ran} run, {len(outcome.failed)} failed) -> {out}/rows.csv, {out}/report.md")
    for f in outcome.failed:
        print(f"  failed point {f['point']} {f['params']}: {f['error']}", file=sys.stderr)
    return 1 if outcome.failed else 0
