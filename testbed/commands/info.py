"""`testbed info ARCH`: the layer table of an architecture with units and MACs."""

from ..errors import TestbedError

HELP = "Print an architecture's layer table with units and MACs."


def add_arguments(p):
    p.add_argument("arch", help="architecture name, e.g. lenet3c1l, lenet5, vgg16")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (expansion ratio)")
    p.add_argument("--classes", type=int, default=10, help="number of classes")


def run(args):
    raise TestbedError("`testbed info` is not implemented yet")
