"""`testbed train` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Train a model from a recipe (steppingnet, anywidth, slimmable, static)."


def add_arguments(p):
    p.add_argument("recipe", help="recipe YAML file (see recipes/)")
    p.add_argument("--data-root", help="dataset root (default $TESTBED_DATA)")
    p.add_argument("--out", help="run folder (default runs/<recipe name>/)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")


def run(args):
    raise TestbedError("`testbed train` is not implemented yet")
