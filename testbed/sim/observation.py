"""What a scheduling policy sees: an immutable snapshot, not the simulation.

The engine builds an :class:`Observation` at every decision point (after each step, and
for budget-watching policies whenever the budget changes mid-step) and asks the policy
for the next step. Because it is a plain value, a policy is a pure function that tests
can call directly. Only the oracle gets :class:`Foresight` (the true future budget and
the eval record's verdict on this frame). ``Observation`` is a ``NamedTuple`` rather
than a frozen dataclass because one is built per step and construction speed matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple


@dataclass(frozen=True)
class Foresight:
    """The truth an online policy cannot know: for the oracle only."""
    correct: tuple[bool, ...]             # step k (index k-1) classifies this frame right
    finish_s: Callable[[float, int], float]  # (start_s, step k) -> true finish time


class Observation(NamedTuple):
    now_s: float
    deadline_s: float
    done: int               # the current result: stages completed, or last subnet (0: none)
    running: int            # 0 at a step boundary; k while step k runs (budget-change checks)
    confidence: float       # of the current result (0.0 when none)
    budget_estimate: float  # EWMA of the observed progress rate, fraction of peak
    budget_now: float       # the platform's share right now, fraction of peak
    work_s: tuple[float, ...]  # step k (index k-1): seconds at full budget, overhead included
    incremental: bool
    waiting: int            # frames queued behind this one
    foresight: Foresight | None = None

    @property
    def num_steps(self) -> int:
        return len(self.work_s)

    def fits(self, k: int, budget: float, margin: float = 0.0) -> bool:
        """Step k, started now at ``budget`` (fraction of peak), is predicted to finish by
        the deadline with ``margin`` (a fraction of its duration) to spare."""
        if budget <= 0:
            return False
        return self.now_s + self.work_s[k - 1] * (1.0 + margin) / budget <= self.deadline_s
