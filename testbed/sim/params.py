"""Typed parameters for everything a scenario names: YAML mapping -> frozen dataclass.

Used by :mod:`testbed.scenario` and by every registered policy, budget generator and
arrival process, so that each declares its parameters once, as dataclass fields (with
bounds in :func:`num`), and gets unknown-key, missing-key, type and range checks for free.
Every problem is a :class:`ConfigError` naming the file and the dotted field path
(``workload.0.deadline_ms``: the same syntax as scenario overrides).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Callable, Literal, Union, get_args, get_origin

from ..errors import ConfigError

Range = tuple[float, float]
"""A number ``x`` (meaning ``[x, x]``) or ``[low, high]`` in YAML."""

Fail = Callable[[str, str, object], typing.NoReturn]


def num(default: Any = dataclasses.MISSING, *, ge: float | None = None, gt: float | None = None,
        le: float | None = None) -> Any:
    """A dataclass field holding numbers bounded by ``ge``/``gt``/``le`` (checked on parse)."""
    return dataclasses.field(default=default, metadata={"ge": ge, "gt": gt, "le": le})


def internal(default: Any = None) -> Any:
    """A dataclass field set by the loader, never read from YAML."""
    return dataclasses.field(default=default, metadata={"internal": True})


def join(where: str, key: str | int) -> str:
    return f"{where}.{key}" if where else str(key)


def failer(file: str | None, where: str) -> Fail:
    def fail(key: str, expected: str, got: object = None) -> typing.NoReturn:
        raise ConfigError(file, join(where, key) if key else where, expected, got)
    return fail


def parse(cls: type, raw: object, file: str | None, where: str) -> Any:
    """Build dataclass ``cls`` from mapping ``raw``; then run its optional ``check(fail)``."""
    if not isinstance(raw, dict):
        raise ConfigError(file, where or None, "a mapping", raw)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)
              if f.init and not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise ConfigError(file, join(where, str(key)), f"a known key ({known})", key)
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _value(hints[name], raw[name], file, join(where, name), f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(file, join(where, name), "a value (this key is required)")
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check(failer(file, where))
    return obj


def parse_kind(registry, raw: object, file: str | None, where: str, key: str = "kind") -> Any:
    """``{key: NAME, **params}`` -> the class registered as NAME, built from the params."""
    if not isinstance(raw, dict):
        raise ConfigError(file, where or None, f"a mapping with a {key!r} key", raw)
    if key not in raw:
        raise ConfigError(file, join(where, key), f"one of {', '.join(registry.names())}")
    cls = registry.get(raw[key], file, join(where, key))
    return parse(cls, {k: v for k, v in raw.items() if k != key}, file, where)


def _value(tp: Any, raw: object, file: str | None, where: str, meta: dict) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)][0]
        return None if raw is None else _value(inner, raw, file, where, meta)
    if origin is Literal:
        if raw not in args:
            raise ConfigError(file, where, f"one of {', '.join(map(str, args))}", raw)
        return raw
    if dataclasses.is_dataclass(tp):
        return parse(tp, raw, file, where)
    if origin is tuple:
        return _tuple(args, raw, file, where, meta)
    if origin is dict:
        if not isinstance(raw, dict) or not raw:
            raise ConfigError(file, where, "a non-empty mapping", raw)
        return {str(k): _value(args[1], v, file, join(where, str(k)), meta) for k, v in raw.items()}
    return _scalar(tp, raw, file, where, meta)


def _tuple(args: tuple, raw: object, file: str | None, where: str, meta: dict) -> tuple:
    if args == (float, float):
        pair = [raw, raw] if _is_number(raw) else raw
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(file, where, "a number or [low, high]", raw)
        low, high = (_scalar(float, v, file, where, meta) for v in pair)
        if low > high:
            raise ConfigError(file, where, "[low, high] with low <= high", raw)
        return (low, high)
    if isinstance(raw, dict) and dataclasses.is_dataclass(args[0]):
        raw = [raw]  # a single mapping counts as a list of one
    if not isinstance(raw, list) or not raw:
        raise ConfigError(file, where, "a non-empty list", raw)
    return tuple(_value(args[0], v, file, join(where, i), meta) for i, v in enumerate(raw))


def _is_number(raw: object) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def _scalar(tp: Any, raw: object, file: str | None, where: str, meta: dict) -> Any:
    if tp is bool:
        if not isinstance(raw, bool):
            raise ConfigError(file, where, "true or false", raw)
        return raw
    if tp is str:
        if not isinstance(raw, str) or not raw:
            raise ConfigError(file, where, "a non-empty string", raw)
        return raw
    if tp is int and not (isinstance(raw, int) and not isinstance(raw, bool)):
        raise ConfigError(file, where, "an integer", raw)
    if tp is float and not (_is_number(raw) and math.isfinite(raw)):
        raise ConfigError(file, where, "a finite number", raw)
    value = tp(raw)
    _bounds(value, file, where, meta)
    return value


def _bounds(value: float, file: str | None, where: str, meta: dict) -> None:
    ge, gt, le = meta.get("ge"), meta.get("gt"), meta.get("le")
    low = ge is not None and value < ge or gt is not None and value <= gt
    if low or le is not None and value > le:
        parts = [f">= {ge}" if ge is not None else "", f"> {gt}" if gt is not None else "",
                 f"<= {le}" if le is not None else ""]
        raise ConfigError(file, where, "a number " + " and ".join(p for p in parts if p), value)
