"""`testbed trace`: write the budget trace a scenario generates (or reads) as CSV.

The trace covers the whole run (``duration_s`` plus the longest deadline) and holds after
its last row, so ``testbed run SCENARIO --trace FILE.csv`` replays the run exactly. Needs
only the scenario, not its model bundles.
"""

from pathlib import Path

from ..errors import TestbedError

HELP = "Write the budget trace a scenario generates (or reads) as CSV."


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--duration", type=float, help="seconds of trace (default duration_s)")


def run(args):
    from ..scenario import load_scenario
    from ..sim.engine import make_trace

    scenario = load_scenario(args.scenario, seed=args.seed, duration_s=args.duration,
                             with_systems=False)
    trace = make_trace(scenario)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        trace.write_csv(out)
    except OSError as exc:
        raise TestbedError(f"{out}: cannot write the trace ({exc.strerror})") from None
    print(f"wrote {out}: {len(trace)} rows of {trace.column} over 0..{trace.time_s[-1]:g} s "
          f"(seed {scenario.seed}; after the last row it {trace.after}s)")
    return 0
