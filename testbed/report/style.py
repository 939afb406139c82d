"""How a system looks in every figure: one colour and marker per name, the same in run
reports (:mod:`testbed.report.plots`), sweep reports (:mod:`testbed.sweep.report`) and
training figures (:mod:`testbed.commands.compare_training`).

Pure lookup, no drawing and no matplotlib import. The four methods have fixed styles
(:data:`KNOWN`). Other names share out :data:`PALETTE` and :data:`MARKERS` in sorted
order over the set of names passed to :func:`styles` (the first gets orange, the second
purple, ...): no two of them collide below ten names, and every figure of one report or
sweep (all drawing the same systems) agrees. A bound system ``X@budget_oracle`` or
``X@oracle`` (the bundle of ``X`` under a perfect-foresight policy) has ``X``'s colour and
marker, drawn dashed or dotted with a larger hollow marker (and hatched bars), so a bound
reads as a bound and stays visible on top of a curve it equals. :func:`order` puts real
systems first and bounds after; :func:`twins` finds curves that coincide, for an
"identical to X" legend note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

KNOWN = {"steppingnet": ("tab:red", "o"), "anywidth": ("tab:blue", "s"),
         "slimmable": ("tab:green", "^"), "static": ("tab:gray", "D")}
"""Fixed (colour, marker) of the methods, in the order figures and tables list them."""

PALETTE = ("tab:orange", "tab:purple", "tab:cyan", "tab:brown", "tab:olive", "tab:pink",
           "gold", "navy", "lime", "darkslategray")
MARKERS = ("v", "P", "X", "<", ">", "h", "p", "*", "d", "8")
"""Colours and markers of other names (slot i: PALETTE[i], MARKERS[i]); none is a KNOWN one."""

BOUNDS = {"budget_oracle": ("--", "//"), "oracle": (":", "..")}
"""Bound policy -> (line style, bar hatch); every bound policy of the report needs one."""


@dataclass(frozen=True)
class Style:
    """How one system is drawn: ``hollow`` (a bound) means an unfilled, larger marker."""

    color: str
    marker: str
    linestyle: str = "-"
    hatch: str | None = None
    hollow: bool = False

    def line(self) -> dict:
        """Keyword arguments for ``Axes.plot`` / ``Axes.step`` / ``Axes.errorbar``."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle,
                "markerfacecolor": "none" if self.hollow else self.color,
                "markersize": 8 if self.hollow else 5, "markeredgewidth": 1.4}

    def bar(self) -> dict:
        """Keyword arguments for ``Axes.bar`` / ``Axes.barh``: bounds light and hatched."""
        return {"color": self.color, "alpha": 0.45 if self.hollow else 0.9,
                "hatch": self.hatch, "edgecolor": self.color}


def split(name: str) -> tuple[str, str | None]:
    """``(base system, bound policy)``: ``("x", "oracle")`` for ``x@oracle``, else
    ``(name, None)``."""
    base, at, kind = name.rpartition("@")
    return (base, kind) if at and base and kind in BOUNDS else (name, None)


def is_bound(name: str) -> bool:
    return split(name)[1] is not None


def order(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, real systems first, then bounds; each part keeps the
    given order (a run report's systems are already in scenario order)."""
    unique = list(dict.fromkeys(names))
    return [n for n in unique if not is_bound(n)] + [n for n in unique if is_bound(n)]


def styles(names: Iterable[str]) -> dict[str, Style]:
    """The :class:`Style` of every name; other names share the palette in sorted order
    over this set, so no two of them look alike (below ten)."""
    names = list(dict.fromkeys(names))
    slots = _slots(list({split(n)[0] for n in names} - set(KNOWN)))
    return {n: _style(n, slots) for n in names}


def style(name: str) -> Style:
    return styles([name])[name]


def _slots(bases: list[str]) -> dict[str, int]:
    """Palette slot per other base name: its place in sorted order (wrapping around)."""
    return {base: i % len(PALETTE) for i, base in enumerate(sorted(bases))}


def _style(name: str, slots: Mapping[str, int]) -> Style:
    base, kind = split(name)
    color, marker = KNOWN.get(base) or (PALETTE[slots[base]], MARKERS[slots[base]])
    if kind is None:
        return Style(color, marker)
    linestyle, hatch = BOUNDS[kind]
    return Style(color, marker, linestyle, hatch, hollow=True)


def twins(data: Mapping[str, object]) -> dict[str, str]:
    """Each name whose data (numbers, arrays, nested sequences of equal shape) equal an
    earlier name's, mapped to the first such name; NaN equals NaN."""
    out: dict[str, str] = {}
    seen: list[tuple[str, np.ndarray]] = []
    for name, values in data.items():
        arr = np.asarray(values, dtype=float)
        same = next((n for n, a in seen if np.array_equal(a, arr, equal_nan=True)), None)
        if same is None:
            seen.append((name, arr))
        else:
            out[name] = same
    return out


def label(name: str, twin: str | None = None) -> str:
    """A legend entry: the name, with "identical to X" when its curve equals X's."""
    return name if twin is None else f"{name} (identical to {twin})"
