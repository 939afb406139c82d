"""`testbed trace` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Write the budget trace a scenario generates (or reads) as CSV."


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--duration", type=float, help="seconds of trace (default duration_s)")


def run(args):
    raise TestbedError("`testbed trace` is not implemented yet")
