"""Seeded mutators and an in-process CLI harness for the fuzz tests (issue 9, item 3).

A mutator turns a valid input (scenario YAML, trace CSV, manifest JSON, ONNX bytes) into
a hostile one with a ``random.Random``: structural edits on the parsed data (delete a
key, replace a leaf with a hostile value, add an unknown key) and byte edits on the text
(truncate, delete, duplicate or swap lines, insert garbage). :func:`call_cli` runs
``testbed.cli.main`` in-process with a wall-clock alarm (a hang raises instead of
blocking the suite) and returns the exit code and what it printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import signal
from dataclasses import dataclass

import yaml

from testbed.cli import main

HOSTILE = (None, -1, 0, -0.0, 1e308, -1e308, 1e-300, math.nan, math.inf, -math.inf, "", "x" * 300,
           True, False, [], {}, [1, 2, 3], {"a": 1}, "../../etc/passwd", "/etc/passwd",
           2 ** 70, "1e3", -1e-9, 0.5, 7, "nan", "\x00", "é✓")
GARBAGE = ("\x00", "\xff", "{", "}", "[", "]", ":", ": ", "- ", "&a ", "*a", "!!python/object ",
           "\t", "'", '"', ",", "#", "\n", "  ", "%YAML 1.1\n", "---\n", "\r\n", "\ufeff")


@dataclass
class Outcome:
    code: int
    out: str
    err: str


class Hang(Exception):
    """The command ran past its wall-clock limit."""


def call_cli(argv: list[str], limit_s: float = 20.0) -> Outcome:
    """``testbed ARGV`` in-process; SystemExit (argparse) becomes its code."""
    def alarm(signum, frame):
        raise Hang(f"testbed {' '.join(argv)} ran past {limit_s} s")
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue())


def problem(result: Outcome, names: tuple[str, ...]) -> str | None:
    """Why ``result`` is not a clean rejection: None when it is exit 2 with one line on
    stderr, without a traceback, naming one of ``names`` (file names)."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    if result.code != 2:
        return f"exit {result.code}, expected 2 (stderr: {result.err[-300:]!r})"
    if len(lines) != 1 or "Traceback" in result.err:
        return f"expected one line on stderr, got {result.err[-500:]!r}"
    if not any(n in lines[0] for n in names):
        return f"message does not name {names}: {lines[0]!r}"
    return None


def paths(node, prefix=()) -> list[tuple]:
    """Every path to a node inside nested dicts/lists (the root excluded)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in items:
        out.append(prefix + (key,))
        out += paths(child, prefix + (key,))
    return out


def mutate_data(data, rng: random.Random):
    """One structural edit of a deep copy of ``data``; returns (new data, description)."""
    data = json.loads(json.dumps(data))
    path = rng.choice(paths(data))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key, op = path[-1], rng.choice(("replace", "replace", "replace", "delete", "unknown", "wrap"))
    if op == "delete":
        del parent[key]
    elif op == "unknown" and isinstance(parent, dict):
        parent[rng.choice(("bogus", "Seed", "extra_key", "faults_"))] = rng.choice(HOSTILE)
    elif op == "wrap":
        parent[key] = [parent[key]]
    else:
        op = "replace"
        parent[key] = rng.choice(HOSTILE)
    return data, f"{op} {'.'.join(map(str, path))}"


def mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.split("\n")
    op = rng.choice(("truncate", "delete_char", "insert", "dup_line", "swap_lines",
                     "drop_line", "empty"))
    if op == "truncate":
        return text[: rng.randrange(len(text))], op
    if op == "delete_char":
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1:], f"{op} {i}"
    if op == "insert":
        i, g = rng.randrange(len(text)), rng.choice(GARBAGE)
        return text[:i] + g + text[i:], f"{op} {g!r} at {i}"
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if op == "dup_line":
        lines.insert(i, lines[j])
    elif op == "swap_lines":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "drop_line":
        del lines[i]
    else:
        return "", op
    return "\n".join(lines), f"{op} {i},{j}"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    op = rng.choice(("truncate", "truncate", "flip", "flip_many", "garbage", "empty", "append"))
    if op == "truncate":
        n = rng.randrange(len(data))
        return data[:n], f"truncate to {n}"
    if op in ("flip", "flip_many"):
        b = bytearray(data)
        for _ in range(1 if op == "flip" else rng.randint(2, 64)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), op
    if op == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000))), op
    if op == "append":
        return data + bytes(rng.randrange(256) for _ in range(100)), op
    return b"", op


def dump_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
