"""Workload: the scenario's job classes -> the frame sequence every system is shown.

A job class (``workload:`` entry) has an arrival process (``periodic`` with jitter, or
``sporadic``: Poisson with an optional minimum gap), a relative deadline, a priority and
an overrun rule (what happens to a frame arriving while an earlier frame of its class is
still pending: ``queue`` it, ``skip_new`` (drop the new one) or ``drop_old`` (drop the
waiting one)). :func:`frames` merges the classes into one stream of :class:`Frame` in
arrival order and gives each the dataset sample it shows, drawn in a seeded order from the
eval record's sample ids. The stream is lazy (random numbers drawn in fixed blocks), so
memory stays flat with duration and it is identical however far it is consumed.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Iterator, Literal, NamedTuple

import numpy as np

from ..errors import ConfigError
from ..registry import Registry
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
    arrivals = parse_kind(ARRIVALS, {k: v for k, v in raw.items() if k not in own}, file, where)
    return JobClass(head.name, head.deadline_ms, head.priority, head.overrun, arrivals)


def frames(classes: tuple[JobClass, ...], seed: int, duration_s: float,
           sample_ids: np.ndarray) -> Iterator[Frame]:
    """Frames arriving in ``[0, duration_s)``, merged over classes in arrival order."""
    streams = [_tagged(c.arrivals.times(component_rng(seed, "workload", i), duration_s), i)
               for i, c in enumerate(classes)]
    deadlines = [c.deadline_ms / 1e3 for c in classes]
    samples = sample_order(seed, sample_ids)
    for job_id, (t, i) in enumerate(heapq.merge(*streams)):
        yield Frame(job_id, i, t, t + deadlines[i], next(samples))


def _tagged(times: Iterator[float], i: int) -> Iterator[tuple[float, int]]:
    return ((t, i) for t in times)


def sample_order(seed: int, sample_ids: np.ndarray) -> Iterator[int]:
    """Sample ids in a seeded order: shuffled passes over the sorted unique ids."""
    pool = np.unique(sample_ids)
    rng = component_rng(seed, "samples")
    while True:
        yield from rng.permutation(pool).tolist()
