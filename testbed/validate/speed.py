"""The host's speed against the cost model, as ``testbed validate`` sees it, and the
budget traces that simulate a system at that speed.

Two measures. Around a run (:func:`testbed.validate.validation.host_speed`): whole jobs
timed alone just before and just after, one ratio for the run, applied by
:func:`scaled_trace`. Through a run (:func:`tracked_speed`): every step the real run took,
its served work over the model's time for it, the median per short window
(:data:`WINDOW_S`), applied window by window by :func:`tracked_trace`. A shared host's
speed can change within milliseconds (on the 2-core VM this project is measured on, spells
from 10 ms to minutes at about half speed, README "How far can you trust it"): a ratio measured
around the run misses them, the tracked one follows them. The tracked speed comes from the
run's own steps, so a simulation at it no longer tests the model's absolute speed, only
everything else: the step costs relative to each other, the policies' decisions, queueing
and deadlines; the report says which verdict is which.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..steadiness import WINDOW_S


def scaled_trace(trace, ratio: float):
    """``trace`` with every value divided by ``ratio``: the platform serving ``ratio``
    times slower (above 1) or faster, its idle stretches kept. Simulating a system on it,
    with the monitor still on the real trace, is the simulation at the host's measured
    speed: what the calibrated model would have predicted had it been calibrated in the
    hour of the run."""
    from ..sim.trace import Trace
    return Trace(trace.time_s, trace.value / ratio, trace.column, trace.after, trace.source)


def sample_ratios(samples, work_s: Sequence[float],
                  start_s: Callable[[float], float] | None = None,
                  later_s: Callable[[float], float] | None = None) -> np.ndarray:
    """Per real step (``samples``, :class:`~testbed.validate.executor.StepSample`, in the
    order they ran): the work the platform served while it ran over the model's time for
    it, ``work_s[step - 1]`` plus, for a job's first step, ``start_s(idle gap)`` (the
    latency model's ``job_start``) and for its later ones ``later_s(idle gap)`` (its
    ``later_start``; None: nothing). NaN where nothing finite was served."""
    out = np.full(len(samples), np.nan)
    last_job, last_end, gap = None, None, None
    for i, s in enumerate(samples):
        model = work_s[s.step - 1]
        first = s.job_id != last_job
        if first:
            gap = None if last_end is None else max(0.0, s.start_s - last_end)
        extra = start_s if first else later_s
        if extra is not None and gap is not None:
            model += extra(gap)
        if np.isfinite(s.served_s) and model > 0:
            out[i] = s.served_s / model
        if first:
            last_job = s.job_id
        last_end = s.end_s
    return out


def tracked_speed(samples, work_s: Sequence[float], horizon_s: float,
                  start_s: Callable[[float], float] | None = None,
                  window_s: float = WINDOW_S,
                  later_s: Callable[[float], float] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, ratios)``: window ``i`` (from ``edges[i]``, ``window_s`` long, covering
    ``[0, horizon_s)``) ran ``ratios[i]`` times slower than the model, the median of
    :func:`sample_ratios` over the steps that started in it; a window without steps
    keeps the one before it (1.0 before the first)."""
    n = max(1, int(np.ceil(horizon_s / window_s)))
    edges = np.arange(n) * window_s
    ratios = np.full(n, np.nan)
    r = sample_ratios(samples, work_s, start_s, later_s)
    starts = np.array([s.start_s for s in samples], dtype=float)
    keep = np.isfinite(r) & (starts >= 0)
    which = np.minimum((starts[keep] / window_s).astype(int), n - 1)
    values = r[keep]
    order = np.argsort(which, kind="stable")
    which, values = which[order], values[order]
    bounds = np.searchsorted(which, np.arange(n + 1))
    for i in range(n):
        if bounds[i + 1] > bounds[i]:
            ratios[i] = np.median(values[bounds[i]:bounds[i + 1]])
    last = 1.0
    for i in range(n):
        if np.isnan(ratios[i]):
            ratios[i] = last
        last = ratios[i]
    return edges, ratios


def tracked_trace(trace, edges: np.ndarray, ratios: np.ndarray, horizon_s: float):
    """``trace`` over ``[0, horizon_s]`` (a repeating one written out, holding after it)
    with each value divided by the ratio of the window it falls in (:func:`tracked_speed`;
    the last window holds on): every graph as slow as the host was in that window."""
    from ..sim.trace import Trace, covering
    trace = covering(trace, horizon_s)
    times = np.union1d(np.asarray(trace.time_s, float), np.asarray(edges, float))
    at = np.searchsorted(trace.time_s, times, side="right") - 1
    win = np.maximum(np.searchsorted(edges, times, side="right") - 1, 0)
    return Trace(times, np.asarray(trace.value)[at] / ratios[win], trace.column, trace.after,
                 trace.source)
