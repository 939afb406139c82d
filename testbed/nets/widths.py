"""Width solver for the dense baselines (slimmable, static): which units per hidden layer
give a network whose MACs match a fraction of the original network's.

Start from the uniform width multiplier closest to the target (every distinct uniform
geometry is tried: unit counts change only where ``units * w`` crosses a half-integer),
then, if that misses by more than ``tol``, move single units in or out of single layers
(greedy, the move that gets closest first) — a uniform multiplier alone cannot reach, say,
85% of LeNet-3C1L (29 filters give 83%, 30 give 89%). Pure Python; MACs come from
:func:`testbed.cost.dense_macs` only.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace

from ..arch import LayerGeom, geometry, scaled
from ..cost import dense_macs, original_macs

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class WidthSolution:
    target: float            # wanted fraction of the original MACs
    width: float             # the uniform multiplier the search started from
    units: tuple[int, ...]   # hidden units per layer actually used
    macs: int
    fraction: float          # macs / original MACs: what was reached


def base_units(arch: str, classes: int = 10, input_shape: Shape = (3, 32, 32)) -> list[int]:
    return [g.out_units for g in geometry(arch, 1.0, classes, input_shape)[:-1]]


def uniform_units(arch: str, width: float, classes: int = 10,
                  input_shape: Shape = (3, 32, 32)) -> list[int]:
    return [scaled(u, width) for u in base_units(arch, classes, input_shape)]


def counted_geometry(arch: str, units, classes: int = 10,
                     input_shape: Shape = (3, 32, 32)) -> list[LayerGeom]:
    """The layers of ``arch`` with the given hidden unit counts (one per hidden layer)."""
    geoms = geometry(arch, 1.0, classes, input_shape)
    if len(units) != len(geoms) - 1:
        raise ValueError(f"{arch}: expected {len(geoms) - 1} unit counts, got {len(units)}")
    ins = [input_shape[0]] + [int(u) for u in units]
    outs = [int(u) for u in units] + [classes]
    return [replace(g, in_units=i, out_units=o) for g, i, o in zip(geoms, ins, outs)]


def cover_width(arch: str, units, classes: int = 10, input_shape: Shape = (3, 32, 32)) -> float:
    """Smallest uniform multiplier whose geometry has at least ``units`` in every layer."""
    return max(c / u for c, u in zip(units, base_units(arch, classes, input_shape)))


def candidate_widths(arch: str, max_width: float, classes: int = 10,
                     input_shape: Shape = (3, 32, 32)) -> list[float]:
    """Ascending: one short, tie-free width per interval of constant unit counts."""
    return interval_values(base_units(arch, classes, input_shape), max_width)


def interval_values(units, max_value: float) -> list[float]:
    """Ascending: one short multiplier per interval of (0, max_value] on which every
    ``scaled(u, value)`` is constant (counts change only where ``u * value`` crosses a
    half-integer)."""
    points = sorted({(j + 0.5) / u for u in set(units) for j in range(int(u * max_value) + 1)})
    points = [0.0] + [p for p in points if p < max_value] + [max_value]
    return [_short_inside(a, b) for a, b in zip(points, points[1:]) if b > a]


def _short_inside(lo: float, hi: float) -> float:
    """The value with the fewest decimals strictly inside (lo, hi)."""
    for digits in range(1, 9):
        v = round((lo + hi) / 2, digits)
        if lo < v < hi:
            return v
    return (lo + hi) / 2


def bracketing_widths(arch: str, goal_macs: float, classes: int = 10,
                      input_shape: Shape = (3, 32, 32), max_width: float = 4.0) -> list[float]:
    """The uniform widths just below and just above ``goal_macs`` (bisection: dense MACs
    grow with the width), closest first."""
    cands = candidate_widths(arch, max_width, classes, input_shape)
    macs = _LazyMacs(arch, cands, classes, input_shape)
    i = bisect_left(macs, goal_macs)
    near = [j for j in (i - 1, i) if 0 <= j < len(cands)]
    return [cands[j] for j in sorted(near, key=lambda j: abs(macs[j] - goal_macs))]


class _LazyMacs:
    """Sequence view of the dense MACs at each candidate width, computed on demand."""

    def __init__(self, arch, widths, classes, input_shape):
        self.args, self.widths = (arch, classes, input_shape), widths

    def __len__(self) -> int:
        return len(self.widths)

    def __getitem__(self, i: int) -> int:
        arch, classes, shape = self.args
        return dense_macs(geometry(arch, self.widths[i], classes, shape))


def solve(arch: str, target: float, classes: int = 10, input_shape: Shape = (3, 32, 32),
          tol: float = 0.005) -> WidthSolution:
    """Units per layer whose dense MACs are within ``tol`` (fraction of the original) of
    ``target``, or as close as single-unit moves from the bracketing uniform widths get."""
    ref = original_macs(arch, classes, input_shape)

    def cost(u):
        return dense_macs(counted_geometry(arch, u, classes, input_shape))
    widths = bracketing_widths(arch, target * ref, classes, input_shape)
    starts = [uniform_units(arch, w, classes, input_shape) for w in widths]
    base = base_units(arch, classes, input_shape)
    i, units = best_refined(starts, cost, target * ref, tol * ref, [1] * len(base),
                            [None] * len(base), base)
    macs = cost(units)
    return WidthSolution(float(target), widths[i], tuple(units), macs, macs / ref)


def best_refined(starts: list, cost, goal: float, tol: float, lower, upper,
                 scale=None) -> tuple[int, list[int]]:
    """:func:`refine` from each start: (index of the start, result) closest to ``goal``."""
    results = [refine(list(s), cost, goal, tol, lower, upper, scale) for s in starts]
    i = min(range(len(results)), key=lambda j: abs(cost(results[j]) - goal))
    return i, results[i]


def refine(units: list[int], cost, goal: float, tol: float, lower: list[int],
           upper: list, scale=None) -> list[int]:
    """Single-unit moves (one layer, +-1, within ``lower``..``upper``; None: no bound)
    that bring ``cost(units)`` towards ``goal`` until within ``tol``. Moves that do not
    cross the goal come first, in the layer furthest behind (or ahead) relative to
    ``scale`` (its full size), so the shape stays regular; a crossing move is taken only
    last, and only if it lands closer."""
    scale = scale or [1] * len(units)
    current = cost(units)
    while abs(current - goal) > tol:
        d = 1 if current < goal else -1
        moves = [i for i in range(len(units)) if _allowed(units[i] + d, lower[i], upper[i])]
        priced = [(i, cost(_moved(units, i, d))) for i in moves]
        inside = [(i, c) for i, c in priced if (c - goal) * d <= 0 and c != current]
        if inside:
            i, current = min(inside, key=lambda ic: d * units[ic[0]] / scale[ic[0]])
        else:
            best = min(priced, key=lambda ic: abs(ic[1] - goal), default=None)
            if best is None or abs(best[1] - goal) >= abs(current - goal):
                break
            i, current = best
        units = _moved(units, i, d)
    return units


def _allowed(value: int, lo: int, hi) -> bool:
    return value >= lo and (hi is None or value <= hi)


def _moved(units: list[int], i: int, d: int) -> list[int]:
    return units[:i] + [units[i] + d] + units[i + 1:]


def given(arch: str, target: float, units, classes: int = 10,
          input_shape: Shape = (3, 32, 32)) -> WidthSolution:
    """A network of exactly ``units`` (e.g. a SteppingNet subnet's shape, trained on its
    own) described like a solved one: its dense MACs and the fraction they reach."""
    units = tuple(int(u) for u in units)
    macs = dense_macs(counted_geometry(arch, units, classes, input_shape))
    return WidthSolution(float(target), cover_width(arch, units, classes, input_shape), units,
                         macs, macs / original_macs(arch, classes, input_shape))


def solve_all(arch: str, targets, classes: int = 10, input_shape: Shape = (3, 32, 32),
              tol: float = 0.005) -> list[WidthSolution]:
    return [solve(arch, t, classes, input_shape, tol) for t in targets]
