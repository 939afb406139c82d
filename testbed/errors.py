"""The one error type users see.

Every expected failure (bad scenario, bad trace row, missing dataset, corrupted bundle)
raises a :class:`TestbedError` subclass whose message names the file, the field or row,
and what was expected. The CLI prints that one line and exits with status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class TestbedError(Exception):
    """An error in the user's input or environment: printed as one line, exit status 2."""

    __test__ = False  # not a pytest test class despite the name


class ConfigError(TestbedError):
    """A malformed YAML/CSV/JSON input: names the file, the field or row, what was expected."""

    def __init__(self, file: str | os.PathLike | None, where: str | None, expected: str,
                 got: object = None):
        self.file = None if file is None else str(file)
        self.where = where
        self.expected = expected
        self.got = got
        parts = [p for p in (self.file, where) if p]
        msg = ": ".join(parts + [f"expected {expected}"]) if parts else f"expected {expected}"
        if got is not None:
            msg += f", got {_short(got)}"
        super().__init__(msg)


class BundleError(TestbedError):
    """A missing, corrupted or inconsistent model bundle."""


class DataError(TestbedError):
    """A dataset that cannot be found or read."""


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
