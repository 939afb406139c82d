"""Workload: the scenario's job classes -> the frame sequence every system is shown.

A job class (``workload:`` entry) has an arrival process (``periodic`` with jitter, or
``sporadic``: Poisson with an optional minimum gap), a relative deadline, a priority and
an overrun rule (what happens to a frame arriving while an earlier frame of its class is
still pending: ``queue`` it, ``skip_new`` (drop the new one) or ``drop_old`` (drop the
waiting one)). :func:`frames` merges the classes into one stream of :class:`Frame` in
arrival order and gives each the dataset sample it shows, drawn in a seeded order from the
eval record's sample ids. The stream is lazy (random numbers drawn in fixed blocks), so
memory stays flat with duration and it is identical however far it is consumed.
Given a :class:`~testbed.sim.faults.FaultPlan`, the stream also carries the run's frame
faults: burst frames replace a class's own arrivals in a burst window, frames of a
drop-out window are marked ``lost``, and each frame names the fault windows that touched
it and the stages that will raise on it.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Literal, NamedTuple

import numpy as np

from ..errors import ConfigError
from ..registry import Registry
from .faults import MAX_STAGES, FaultPlan, in_windows, merge, overlaps
from .params import Fail, internal, join, num, parse, parse_kind
from .seeds import component_rng

ARRIVALS: Registry[type] = Registry("arrival process")
BLOCK = 4096  # random numbers drawn per block: fixed, so streams never depend on consumption


@ARRIVALS.register("periodic")
@dataclass(frozen=True)
class Periodic:
    """One frame every ``period_ms`` from ``offset_ms``, each late by U(0, jitter_ms)."""
    period_ms: float = num(gt=0)
    jitter_ms: float = num(0.0, ge=0)
    offset_ms: float = num(0.0, ge=0)

    def check(self, fail: Fail) -> None:
        if self.jitter_ms >= self.period_ms:
            fail("jitter_ms", f"less than period_ms ({self.period_ms})", self.jitter_ms)

    def times(self, rng: np.random.Generator, duration_s: float) -> Iterator[float]:
        period, offset = self.period_ms / 1e3, self.offset_ms / 1e3
        for first in itertools.count(0, BLOCK):
            with np.errstate(over="ignore"):  # a huge period_ms overflows to inf: no frame
                base = offset + period * np.arange(first, first + BLOCK)
            late = rng.uniform(0.0, self.jitter_ms / 1e3, BLOCK)
            yield from (base + late)[base < duration_s].tolist()
            if base[-1] >= duration_s:
                return


@ARRIVALS.register("sporadic")
@dataclass(frozen=True)
class Sporadic:
    """Poisson arrivals at ``rate_hz``, never closer than ``min_gap_ms``."""
    rate_hz: float = num(gt=0)
    min_gap_ms: float = num(0.0, ge=0)

    def times(self, rng: np.random.Generator, duration_s: float) -> Iterator[float]:
        last = 0.0
        while True:
            gaps = self.min_gap_ms / 1e3 + rng.exponential(1.0 / self.rate_hz, BLOCK)
            t = last + np.cumsum(gaps)
            yield from t[t < duration_s].tolist()
            if t[-1] >= duration_s:
                return
            last = float(t[-1])


@dataclass(frozen=True)
class JobClass:
    name: str
    deadline_ms: float = num(gt=0)
    priority: int = 0
    overrun: Literal["queue", "skip_new", "drop_old"] = "queue"
    arrivals: Periodic | Sporadic | None = internal()


class Frame(NamedTuple):
    job_id: int        # 0.. in arrival order
    job_class: int     # index into the scenario's workload
    arrival_s: float
    deadline_s: float  # absolute
    sample_id: int
    fault: str = ""    # fault windows that touched this frame ("stall+burst"; "" none)
    lost: bool = False  # a sensor drop-out: the frame never arrives
    fails: int = 0     # bit k-1 set: stage k raises on this frame


def parse_workload(raw: object, file: str | None, where: str = "workload") -> tuple[JobClass, ...]:
    """The ``workload:`` list -> job classes (names unique)."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(file, where, "a non-empty list of job classes", raw)
    classes = tuple(_parse_class(entry, file, join(where, i)) for i, entry in enumerate(raw))
    names = [c.name for c in classes]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(file, join(where, f"{i}.name"), "a name not used before", name)
    return classes


def _parse_class(raw: object, file: str | None, where: str) -> JobClass:
    if not isinstance(raw, dict):
        raise ConfigError(file, where, "a mapping (a job class)", raw)
    own = {"name", "deadline_ms", "priority", "overrun"}
    head = parse(JobClass, {k: v for k, v in raw.items() if k in own}, file, where)
    try:
        arrivals = parse_kind(ARRIVALS, {k: v for k, v in raw.items() if k not in own},
                              file, where)
    except ConfigError as exc:  # an unknown key: list the class's own keys too
        if "expected a known key (" not in str(exc):
            raise
        raise ConfigError(exc.file, exc.where, exc.expected.replace(
            "a known key (", "a known key (name, deadline_ms, priority, overrun, kind, "),
            exc.got) from None
    return JobClass(head.name, head.deadline_ms, head.priority, head.overrun, arrivals)


def frames(classes: tuple[JobClass, ...], seed: int, duration_s: float,
           sample_ids: np.ndarray, faults: FaultPlan | None = None) -> Iterator[Frame]:
    """Frames arriving in ``[0, duration_s)``, merged over classes in arrival order."""
    streams = [_tagged(c.arrivals.times(component_rng(seed, "workload", i), duration_s), i)
               for i, c in enumerate(classes)]
    deadlines = [c.deadline_ms / 1e3 for c in classes]
    samples = sample_order(seed, sample_ids)
    if faults is None or not faults.touches_frames:
        for job_id, (t, i) in enumerate(heapq.merge(*streams)):
            yield Frame(job_id, i, t, t + deadlines[i], next(samples))
        return
    bursts = _burst_windows(faults, len(classes))
    streams = [_bursty(s, bursts[i], i, duration_s) for i, s in enumerate(streams)]
    drops = [merge([w for w, c in faults.dropouts if c in (i, -1)]) for i in range(len(classes))]
    fails = _fail_masks(faults)
    for job_id, (t, i) in enumerate(heapq.merge(*streams)):
        d = t + deadlines[i]
        lost = in_windows(t, drops[i])
        labels = ("stall" if overlaps(t, d, faults.stalls) else "", "dropout" if lost else "",
                  "burst" if bursts[i] and in_windows(t, bursts[i]) else "")
        yield Frame(job_id, i, t, d, next(samples), "+".join(x for x in labels if x), lost,
                    next(fails))


def _burst_windows(faults: FaultPlan, n: int) -> list[list[tuple[float, float, float]]]:
    """Per class: merged burst windows ``(start, end, period_s)`` (the shortest period
    where windows overlap)."""
    out = []
    for i in range(n):
        mine = sorted((w, p) for w, c, p in faults.bursts if c == i)
        merged: list[tuple[float, float, float]] = []
        for (a, b), p in mine:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b), min(merged[-1][2], p))
            else:
                merged.append((a, b, p))
        out.append(merged)
    return out


def _bursty(stream: Iterator[tuple[float, int]], windows: list, i: int,
            duration_s: float) -> Iterator[tuple[float, int]]:
    """A class's own arrivals outside its burst windows, burst arrivals inside them."""
    if not windows:
        return stream
    own = ((t, c) for t, c in stream if not in_windows(t, windows))
    burst = ((t, i) for a, b, p in windows
             for t in (a + p * np.arange(math.ceil((min(b, duration_s) - a) / p))).tolist()
             if t < min(b, duration_s))
    return heapq.merge(own, burst)


def _fail_masks(faults: FaultPlan) -> Iterator[int]:
    """Per frame: the bitmask of stages that raise on it (bit k-1: stage k)."""
    p, mask = faults.stage_probability, faults.stage_mask
    if not p:
        yield from itertools.repeat(0)
    rng = component_rng(faults.seed, "faults", "stages")
    weights = np.left_shift(np.int64(1), np.arange(MAX_STAGES, dtype=np.int64))
    while True:
        draws = rng.random((BLOCK, MAX_STAGES)) < p
        yield from ((draws.astype(np.int64) @ weights) & mask).tolist()


def _tagged(times: Iterator[float], i: int) -> Iterator[tuple[float, int]]:
    return ((t, i) for t in times)


def sample_order(seed: int, sample_ids: np.ndarray) -> Iterator[int]:
    """Sample ids in a seeded order: shuffled passes over the sorted unique ids."""
    pool = np.unique(sample_ids)
    rng = component_rng(seed, "samples")
    while True:
        yield from rng.permutation(pool).tolist()
