"""`testbed trace`: write the budget trace a scenario generates (or reads) as CSV.

The trace covers the whole run (``duration_s`` plus the longest deadline; a repeating
trace file is written out cycle by cycle) and holds after its last row, so ``testbed run
SCENARIO --trace FILE.csv`` replays the run exactly. A generated budget above the
platform's peak (> 1) is written as a ``gmacs`` column. Needs only the scenario, not its
model bundles.
"""

from pathlib import Path

from ..errors import TestbedError

HELP = "Write the budget trace a scenario generates (or reads) as CSV."

EPILOG = """\
examples:
  testbed trace scenarios/mobile_powersave.yaml --out traces/powersave.csv --seed 3
  testbed run scenarios/mobile_powersave.yaml --trace traces/powersave.csv   # replays it

trace files (CSV, a header and rows; piecewise constant, a value holds until the next row):
  time_s,budget        budget: a fraction of the platform's peak in [0, 1] (0.35, not 35);
  0.0,1.0              a file in percent is refused: divide by 100, or give a gmacs column
  2.5,0.35             (time_s,gmacs) with absolute giga-MAC/s instead. Times start at 0
  2.9,1.0              and never decrease.
  After its last row a trace holds its last value; a scenario's
  budget: {kind: trace, file: F.csv, after: repeat} repeats it instead (the last row's time
  is then the cycle length). The file written here covers the whole run and holds.
"""


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--duration", type=float, help="seconds of trace (default duration_s)")


def run(args):
    from ..scenario import load_scenario
    from ..sim.engine import make_trace
    from ..sim.trace import covering

    scenario = load_scenario(args.scenario, seed=args.seed, duration_s=args.duration,
                             with_systems=False)
    trace = readable(covering(make_trace(scenario), scenario.horizon_s),
                     scenario.platform.peak_gmacs)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        trace.write_csv(out)
    except OSError as exc:
        raise TestbedError(f"{out}: cannot write the trace ({exc.strerror})") from None
    print(f"wrote {out}: {len(trace)} rows of {trace.column} over 0..{trace.time_s[-1]:g} s "
          f"(seed {scenario.seed}; after the last row it holds)")
    return 0



def readable(trace, peak_gmacs: float):
    """A trace a trace file can hold: a generated budget above 1 (more than the platform's
    peak, which a ``budget`` column refuses) is written as absolute GMAC/s instead."""
    from ..sim.trace import Trace

    if trace.column != "budget" or trace.value.max() <= 1:
        return trace
    return Trace(trace.time_s, trace.value * peak_gmacs, "gmacs", trace.after, trace.source)
