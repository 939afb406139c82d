"""Fitting the latency model (:mod:`testbed.sim.latency`) to measured graphs: pure numpy.

Each measured graph gives a row (operators, input/output tensors, MACs, bytes, im2col
bytes) -> median latency (ms). The
model ``launch + node * nodes + io * tensors + max(macs / rate, bytes / bandwidth) +
expand / rate2`` is linear in its six non-negative coefficients once each graph is
assigned to its bound,
and with the ratio of the two rates fixed the max is one known column: :func:`fit_latency`
scans that ratio on a log grid (plus compute-only and memory-only) and solves a
non-negative least-squares problem at each, keeping the best.
Errors are relative (a 1 ms and a 0.1 ms graph count alike) and the solve is
iteratively reweighted towards least absolute relative error, so that one noisy graph
cannot pull the fit. NNLS with a handful of unknowns is solved exactly by trying every
subset of active coefficients. The ratio is scanned coarsely, then finely around the
three best, with one reweighting round; the three best are then refined.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fit:
    launch_ms: float
    node_us: float
    io_us: float
    gmacs: float | None        # None: the compute term never binds (infinite rate)
    gbps: float | None         # None: the memory term never binds
    expand_gbps: float | None  # None: no im2col term
    median_error: float        # |predicted / measured - 1| over the fitted graphs
    worst_error: float

    def predict(self, nodes, macs, bytes_, expand=None, io=None) -> np.ndarray:
        nodes = np.asarray(nodes, float)
        zero = np.zeros_like(nodes)
        return predict(self.coefficients, nodes, np.asarray(macs, float),
                       np.asarray(bytes_, float), zero if expand is None else
                       np.asarray(expand, float), zero if io is None else np.asarray(io, float))

    @property
    def coefficients(self) -> np.ndarray:
        """(ms, ms per operator, ms per MAC, ms per byte, ms per expanded byte, ms per
        input/output tensor)."""
        return np.array([self.launch_ms, self.node_us / 1e3, _per(self.gmacs),
                         _per(self.gbps), _per(self.expand_gbps), self.io_us / 1e3])


def _per(rate: float | None) -> float:
    return 1 / (rate * 1e6) if rate else 0.0


def _rate(coef: float) -> float | None:
    return float(1 / (coef * 1e6)) if coef > 0 else None


def predict(coef: np.ndarray, nodes, macs, bytes_, expand, io) -> np.ndarray:
    return (coef[0] + coef[1] * nodes + np.maximum(coef[2] * macs, coef[3] * bytes_)
            + coef[4] * expand + coef[5] * io)


def fit_latency(nodes, macs, bytes_, measured_ms, expand=None, io=None, *,
                per_node: bool = True, rounds: int = 8) -> Fit:
    """Fit the model to graphs (arrays of equal length). ``expand``: im2col bytes, ``io``:
    input and output tensors per graph (None: no such term); ``per_node=False`` drops
    the per-operator term."""
    nodes, macs, bytes_ = (np.asarray(v, float) for v in (nodes, macs, bytes_))
    zero = np.zeros_like(nodes)
    expand = zero if expand is None else np.asarray(expand, float)
    io = zero if io is None else np.asarray(io, float)
    y = np.asarray(measured_ms, float)
    if len(y) < 2 or np.any(y <= 0):
        raise ValueError("fitting needs at least two graphs with latencies > 0")
    extra = np.column_stack([nodes if per_node else zero, expand, io])
    scale = np.median(macs) / max(np.median(bytes_), 1.0)
    def cost(c):
        return float(np.mean(np.abs(predict(c, nodes, macs, bytes_, expand, io) / y - 1)))

    def scan(ratios):
        return sorted(ratios, key=lambda r: cost(_fit_at(macs, bytes_, extra, y, r, 1)))
    coarse = scan(_ratios(scale))[:3]
    fine = scan(coarse + [r * f for r in coarse if r and np.isfinite(r)
                          for f in np.logspace(-0.1, 0.1, 9)])
    coef = min((_fit_at(macs, bytes_, extra, y, r, rounds) for r in fine[:3]), key=cost)
    err = np.abs(predict(coef, nodes, macs, bytes_, expand, io) / y - 1)
    return Fit(float(coef[0]), float(coef[1] * 1e3), float(coef[5] * 1e3), _rate(coef[2]),
               _rate(coef[3]), _rate(coef[4]), float(np.median(err)), float(err.max()))


def _ratios(scale: float) -> list[float | None]:
    """Candidate (ms per byte) / (ms per MAC) ratios: None = compute only, inf = memory
    only, and a log grid around the graphs' typical MACs per byte."""
    return [None, np.inf] + list(scale * np.logspace(-4, 4, 41))


def _fit_at(macs, bytes_, extra, y, ratio, rounds: int) -> np.ndarray:
    """Coefficients with the memory/compute ratio fixed: then the model is linear."""
    if ratio is None:
        term = macs
    elif np.isinf(ratio):
        term = bytes_
    else:
        term = np.maximum(macs, ratio * bytes_)
    keep = [i for i in range(extra.shape[1]) if np.any(extra[:, i])]  # unused terms: 0
    design = np.column_stack([np.ones_like(y), term, extra[:, keep]])
    sol = _robust_nnls(design, y, rounds)
    c = np.zeros(6)
    c[0] = sol[0]
    for j, i in enumerate(keep):
        c[[1, 4, 5][i]] = sol[2 + j]
    if ratio is None:
        c[2] = sol[1]
    elif np.isinf(ratio):
        c[3] = sol[1]
    else:
        c[2], c[3] = sol[1], sol[1] * ratio
    return c


def _robust_nnls(design: np.ndarray, y: np.ndarray, rounds: int) -> np.ndarray:
    """Non-negative coefficients minimising the relative error, reweighted towards L1."""
    a, b = design / y[:, None], np.ones_like(y)
    weight = np.ones_like(y)
    coef = nnls(a, b)
    for _ in range(rounds):
        resid = np.abs(a @ coef - b)
        weight = 1.0 / np.maximum(resid, 0.01)
        coef = nnls(a * np.sqrt(weight)[:, None], b * np.sqrt(weight))
    return coef


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin ||a x - b|| over x >= 0, by trying every set of free coefficients (exact
    for the handful of columns used here)."""
    n = a.shape[1]
    best, best_cost = np.zeros(n), float(b @ b)
    for size in range(1, n + 1):
        for cols in itertools.combinations(range(n), size):
            sub = a[:, cols]
            if not np.any(sub):
                continue
            sol, *_ = np.linalg.lstsq(sub, b, rcond=None)
            if np.any(sol < 0):
                continue
            x = np.zeros(n)
            x[list(cols)] = sol
            cost = float(np.sum((a @ x - b) ** 2))
            if cost < best_cost - 1e-15:
                best, best_cost = x, cost
    return best
