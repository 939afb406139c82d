"""How steady a core is: a fixed loop of Python arithmetic timed back to back, window by
window (:func:`probe`), and the brief of any per-window speed ratios (:func:`spells`).

``testbed calibrate`` and ``testbed validate`` both probe their core before and after
they measure, so their reports say whether the host was quiet: on the 2-core VM this
project is measured on the core runs at half speed in spells of 10 ms to minutes (another
tenant on the same physical core, or the hypervisor), which no fitted model can know
about. Pure standard library and numpy.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

WINDOW_S = 0.01      # window: short against the host's slow spells
SLOW_SPELL = 1.5     # a window this much slower than the reference counts as slow


def spells(ratios: np.ndarray, window_s: float = WINDOW_S,
           threshold: float = SLOW_SPELL) -> dict:
    """Per-window speed ratios (above 1: slower than the reference) in brief: their
    median and 90th percentile, and the share of windows slower than ``threshold``."""
    r = np.asarray(ratios, float)
    return {"window_ms": window_s * 1e3, "median": float(np.median(r)),
            "p90": float(np.percentile(r, 90)), "slow_share": float(np.mean(r > threshold)),
            "slow_threshold": threshold}


PROBE_S = 2.0  # how long :func:`probe` watches the host


def probe(seconds: float = PROBE_S, window_s: float = WINDOW_S,
          clock: Callable[[], float] | None = None) -> dict:
    """How steady this core is, independent of any model: a fixed loop of Python
    arithmetic run back to back for ``seconds``, its median time per ``window_s`` window
    over the fastest window's (:func:`spells` of those ratios; ``loops``: how many ran;
    ``loop_us``: the loop's median time, which compares runs minutes apart: a spell that
    lasts the whole probe shows there, not in the ratios).
    On a quiet core every window is within a few percent of the fastest; a core shared
    with another tenant (a hyperthread sibling, a hypervisor's other guests) shows spells
    at a multiple of it."""
    clock = clock or time.perf_counter
    t0 = clock()
    starts, times = [], []
    while True:
        a = clock()
        if a - t0 >= seconds:
            break
        _loop()
        starts.append(a - t0)
        times.append(clock() - a)
    if not times:
        return {**spells(np.ones(1), window_s), "loops": 0, "loop_us": None}
    which = (np.array(starts) / window_s).astype(int)
    t = np.array(times)
    medians = np.array([np.median(t[which == w]) for w in np.unique(which)])
    return {**spells(medians / medians.min(), window_s), "loops": len(times),
            "loop_us": float(np.median(t)) * 1e6}


def _loop(n: int = 2000) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


def describe(probes: dict) -> str:
    """``{"before": probe, "after": probe}`` in words, for a report."""
    parts = []
    for when in ("before", "after"):
        p = probes.get(when)
        if p:
            loop = "—" if p.get("loop_us") is None else f"{p['loop_us']:.1f}"
            parts.append(f"{when}: {100 * p['slow_share']:.0f} % of {p['window_ms']:g} ms "
                         f"windows over {p['slow_threshold']:g}× the fastest (p90 "
                         f"{p['p90']:.2f}×; loop {loop} µs)")
    return "; ".join(parts)
