"""`testbed inspect` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Print a bundle's manifest as a table and validate the bundle."


def add_arguments(p):
    p.add_argument("bundle", help="model bundle folder")


def run(args):
    raise TestbedError("`testbed inspect` is not implemented yet")
