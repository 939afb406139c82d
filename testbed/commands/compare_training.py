"""`testbed compare-training` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Plot accuracy against %% of original MACs for every method; write the table."


def add_arguments(p):
    p.add_argument("results", nargs="+", help="training.json files")
    p.add_argument("--out", default="reports/training", help="output folder")


def run(args):
    raise TestbedError("`testbed compare-training` is not implemented yet")
