"""Random streams for the simulator's components, derived from the scenario seed.

Each component (the budget trace, each workload class, the frame -> sample order) draws
from its own stream, keyed by a fixed name, so that adding a system, a policy or another
workload class never changes what an existing component draws: every system sees the
same trace and the same frames, and the same seed gives the same run.
"""

from __future__ import annotations

import zlib

import numpy as np


def component_rng(seed: int, *key: str | int) -> np.random.Generator:
    """A generator for component ``key`` (e.g. ``("workload", 0)``) of run ``seed``."""
    words = tuple(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=words))
