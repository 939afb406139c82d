"""What a scheduling policy sees: an immutable snapshot, not the simulation.

The engine builds an :class:`Observation` at every decision point (after each step, and
for budget-watching policies whenever the budget changes mid-step) and asks the policy
for the next step. Because it is a plain value, a policy is a pure function that tests
can call directly. The budget reaches a policy only through the platform's monitor
(:mod:`testbed.sim.monitor`): ``budget_now`` is its newest sample, ``budget_estimate`` the
EWMA of its samples. Only the oracles get :class:`Foresight`: ``budget_oracle`` the true
future budget and which stages will fail, ``oracle`` also the eval record's verdict on
this frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple


@dataclass(frozen=True)
class Foresight:
    """The truth an online policy cannot know: for the oracles only."""
    finish_s: Callable[[float, int], float]  # (start_s, step k) -> true finish time
    usable: tuple[bool, ...]              # step k (index k-1) gives a result (no stage fails)
    correct: tuple[bool, ...] | None = None  # step k classifies this frame right (oracle)


class Observation(NamedTuple):
    now_s: float
    deadline_s: float
    done: int               # the current result: stages completed, or last subnet (0: none)
    running: int            # 0 at a step boundary; k while step k runs (budget-change checks)
    confidence: float       # of the current result (0.0 when none)
    budget_estimate: float  # monitor: EWMA of the budget samples, fraction of peak
    budget_now: float       # monitor: the newest budget sample, fraction of peak
    work_s: tuple[float, ...]  # step k (index k-1): seconds at full budget, overhead included
    #                            (cost_model: latency: the median, never this execution's draw)
    incremental: bool
    waiting: int            # frames queued behind this one
    quality: tuple[float, ...] = ()  # step k: measured test accuracy of its model
    remaining_s: float = 0.0  # of the running step: seconds at full budget still to serve
    #                           (of its median work_s: the draw stays hidden)
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

    def running_fits(self, budget: float, margin: float = 0.0) -> bool:
        """The running step, continued at ``budget``, is predicted to finish in time."""
        if budget <= 0:
            return False
        return self.now_s + self.remaining_s * (1.0 + margin) / budget <= self.deadline_s
