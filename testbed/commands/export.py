"""`testbed export` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Export a trained checkpoint as a model bundle of chained ONNX stage graphs."


def add_arguments(p):
    p.add_argument("checkpoint", help="checkpoint file written by testbed train")
    p.add_argument("--out", required=True, help="bundle folder, e.g. models/NAME")
    p.add_argument("--data-root", help="dataset root for the eval record (default $TESTBED_DATA)")


def run(args):
    raise TestbedError("`testbed export` is not implemented yet")
