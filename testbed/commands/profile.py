"""`testbed profile` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Measure each stage's latency with ONNX Runtime on this host."


def add_arguments(p):
    p.add_argument("bundle", help="model bundle folder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)


def run(args):
    raise TestbedError("`testbed profile` is not implemented yet")
