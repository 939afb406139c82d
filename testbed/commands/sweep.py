"""`testbed sweep` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Run a grid of scenario variants (deadlines, platforms, policies, seeds) in parallel."


def add_arguments(p):
    p.add_argument("sweep", help="sweep YAML file (base: scenario, grid: {path: [values]})")
    p.add_argument("--executor", choices=["local", "dask"], default="local")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    p.add_argument("--address", help="existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help="output folder (default reports/sweeps/<name>/)")
    p.add_argument("--duration", type=float, help="override duration_s of every point")


def run(args):
    raise TestbedError("`testbed sweep` is not implemented yet")
