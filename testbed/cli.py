"""Command line: a map from command names to small modules in :mod:`testbed.commands`.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args)``, and
imports its heavy dependencies (torch, onnxruntime) inside ``run`` so that ``testbed
--help`` and ``testbed run`` start fast. A :class:`~testbed.errors.TestbedError` is printed
as one line and ends the program with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import TestbedError

COMMANDS = ("run", "train", "export", "profile", "trace", "sweep", "info", "inspect",
            "compare-training")


def _module(name: str):
    return importlib.import_module(f"testbed.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testbed",
        description="SteppingNet testbed: anytime inference on resource-varying platforms.")
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        mod = _module(name)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


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
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
