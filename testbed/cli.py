"""Command line: a map from command names to small modules in :mod:`testbed.commands`.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args)`` (and
optionally ``EPILOG``, examples shown under ``--help``), and imports its heavy dependencies
(torch, onnxruntime) inside ``run`` so that ``testbed --help`` and ``testbed run`` start
fast. Commands that need an optional extra (torch for ``train``/``export``, Dask for
``sweep --executor dask``) call :func:`need` first. A :class:`~testbed.errors.TestbedError`
is printed as one line and ends the program with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import TestbedError

COMMANDS = ("run", "train", "export", "profile", "trace", "sweep", "info", "inspect",
            "compare-training", "validate", "calibrate")

EPILOG = """\
examples (testbed COMMAND --help shows more):
  testbed info lenet5                                   # layers, units and MACs
  testbed inspect models/lenet5-cifar10-steppingnet     # a shipped model bundle
  testbed run scenarios/autonomous_brake.yaml           # simulate; report in reports/
  testbed train recipes/smoke-steppingnet.yaml          # needs pip install -e '.[train]'
"""


def _module(name: str):
    return importlib.import_module(f"testbed.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testbed", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="SteppingNet testbed: anytime inference on resource-varying platforms.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        mod = _module(name)
        # help= is %-formatted by argparse, description= and epilog= are printed as written
        p = sub.add_parser(name, help=mod.HELP.replace("%", "%%"), description=mod.HELP,
                           epilog=getattr(mod, "EPILOG", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def need(module: str, extra: str, purpose: str):
    """Import and return optional dependency ``module``, or raise a one-line error saying
    which extra of the package to install (the light install has no torch and no Dask)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = "is not installed" if exc.name == module else f"fails to import ({exc})"
        raise TestbedError(f"{purpose} needs {module}, which {why}: "
                           f"pip install -e '.[{extra}]'") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args._run(args)
    except TestbedError as exc:
        print(f"testbed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"testbed {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`testbed ... | head`): stop quietly, as other
        # command-line tools do, and keep Python from complaining when it flushes stdout
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):     # stdout without a file descriptor
            pass
        return 141
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
