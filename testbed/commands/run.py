"""`testbed run` (not implemented yet)."""

from ..errors import TestbedError

HELP = "Simulate a scenario: every system under the same budget trace and frames; write a report."


def add_arguments(p):
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--trace", help="budget trace CSV overriding the scenario's budget")
    p.add_argument("--out", help="report folder (default reports/<scenario name>/)")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--seeds", type=int, default=1, help="repetitions with seeds seed..seed+N-1")
    p.add_argument("--duration", type=float, help="simulated seconds (overrides duration_s)")
    p.add_argument("--deadlines", help="comma-separated deadlines in ms for a hit-rate curve")
    p.add_argument("--live", action="store_true", help="run the ONNX stages on real images")
    p.add_argument("--data-root", help="dataset root for --live (default $TESTBED_DATA)")


def run(args):
    raise TestbedError("`testbed run` is not implemented yet")
