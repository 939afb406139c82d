"""Any-width assignment (Vu et al., CVPR 2020) as a step assignment for a NestedNet: every
hidden layer of the expanded network is split into K contiguous groups, group k holding
units that first appear in subnet k (units past group K are unused, step K+1). Because a
NestedNet's synapse rule lets unit n read unit m only if ``s[m] <= s[n]``, contiguous
groups give exactly the any-width lower-triangular connectivity, one BN, and stages that
export like SteppingNet's.

Group sizes are regular: subnet k holds the leading ``scaled(units_l, f_k)`` units of every
layer l, with one fraction f_k per step, searched step by step so that subnet k's MACs are
closest to ``target_k`` x the original network's (then nudged a unit at a time where one
fraction cannot get within ``tol``, e.g. LeNet-5's 12-filter first layer). Every group gets
at least one unit of every layer (while units are left), so each step has a path to the
classifier. The search prices a candidate from its
dense blocks (group g of layer l reads groups <= g of layer l-1) with
:func:`testbed.cost.layer_dense_macs`, which equals what :func:`testbed.cost.subnet_macs`
counts on the final assignment (tests check both agree) but stays fast for VGG-16.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace

import numpy as np

from ..arch import LayerGeom, geometry, scaled
from ..cost import layer_dense_macs, original_macs
from .widths import best_refined, interval_values

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Assignment:
    fractions: tuple[float, ...]       # f_k: share of every layer's units in subnet k
    counts: tuple[tuple[int, ...], ...]  # [k][l] units of layer l in subnet k (cumulative)
    steps: tuple[np.ndarray, ...]      # per hidden layer, the step of every unit (1..K+1)
    macs: tuple[int, ...]              # subnet MACs (cumulative)
    fractions_reached: tuple[float, ...]


def triangular_macs(geoms: list[LayerGeom], counts: list[list[int]]) -> int:
    """MACs of the last subnet in ``counts`` (cumulative unit counts per step and layer)."""
    total, prev = 0, [0] * len(counts[0])
    for row in counts:
        reads = geoms[0].in_units
        for g, now, before in zip(geoms[:-1], row, prev):
            total += layer_dense_macs(replace(g, in_units=reads, out_units=now - before))
            reads = now
        prev = row
    return total + layer_dense_macs(replace(geoms[-1], in_units=counts[-1][-1]))


def step_counts(units: list[int], previous: list[int], fraction: float) -> list[int]:
    """Cumulative units of the next subnet at ``fraction``, at least :func:`least`."""
    return [max(lo, scaled(u, fraction)) for u, lo in zip(units, least(units, previous))]


def least(units: list[int], previous: list[int]) -> list[int]:
    """The fewest cumulative units the next subnet may have: one new unit in every layer
    that has one left. A group with no unit in some layer would have no path to the
    classifier past it (its units may feed only its own and later groups), so all of its
    work in earlier layers would change no output."""
    return [min(p + 1, u) for u, p in zip(units, previous)]


def assign(arch: str, width: float, targets, classes: int = 10,
           input_shape: Shape = (3, 32, 32), tol: float = 0.005) -> Assignment:
    """The regular assignment of ``arch`` expanded to ``width`` for MAC ``targets``; a
    step whose MACs miss by more than ``tol`` (fraction of the original) gets single units
    moved in or out of single layers (:func:`testbed.nets.widths.refine`)."""
    geoms = geometry(arch, width, classes, input_shape)
    units = [g.out_units for g in geoms[:-1]]
    ref = original_macs(arch, classes, input_shape)
    cands = interval_values(units, 1.0)
    counts, fractions, macs = [], [], []
    previous = [0] * len(units)
    for target in targets:
        fs = _bracketing(geoms, counts, previous, cands, target * ref)
        i, row = best_refined([step_counts(units, previous, f) for f in fs],
                              lambda r: triangular_macs(geoms, counts + [r]), target * ref,
                              tol * ref, least(units, previous), units, units)
        counts.append(row)
        fractions.append(fs[i])
        macs.append(triangular_macs(geoms, counts))
        previous = row
    steps = _steps(units, counts)
    return Assignment(tuple(fractions), tuple(tuple(c) for c in counts), steps, tuple(macs),
                      tuple(m / ref for m in macs))


def _bracketing(geoms, counts, previous, cands, goal) -> list[float]:
    """The fractions just below and just above ``goal`` (bisection: subnet MACs grow with
    f), closest first."""
    units = [g.out_units for g in geoms[:-1]]
    price = _Priced(lambda f: triangular_macs(geoms, counts + [step_counts(units, previous, f)]),
                    cands)
    i = bisect_left(price, goal)
    near = [j for j in (i - 1, i) if 0 <= j < len(cands)]
    return [cands[j] for j in sorted(near, key=lambda j: abs(price[j] - goal))]


class _Priced:
    """Sequence view of ``fn`` over ``xs``, evaluated on demand and remembered."""

    def __init__(self, fn, xs):
        self.fn, self.xs, self.memo = fn, xs, {}

    def __len__(self) -> int:
        return len(self.xs)

    def __getitem__(self, i: int) -> int:
        if i not in self.memo:
            self.memo[i] = self.fn(self.xs[i])
        return self.memo[i]


def _steps(units: list[int], counts: list[list[int]]) -> tuple[np.ndarray, ...]:
    """Unit i of layer l gets the first step k whose count exceeds i (else K+1)."""
    table = np.asarray(counts, dtype=np.int64)            # [K, L]
    out = []
    for l, n in enumerate(units):
        idx = np.arange(n)
        out.append(1 + (idx[None, :] >= table[:, l][:, None]).sum(0))
    return tuple(out)
