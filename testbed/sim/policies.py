"""Scheduling policies: after each step, run another step or stop and emit the result.

One small frozen dataclass per policy, registered in ``POLICIES``; its fields are its
validated parameters (``systems[i].policy`` in a scenario). ``decide(obs)`` maps an
:class:`~testbed.sim.observation.Observation` to the step to run next (0: stop). For an
incremental bundle the only possible step is ``obs.done + 1``; for a non-incremental one
any subnet k (run from scratch). Policies that set ``watches_budget`` are also asked while
a step runs, whenever the budget changes (``obs.running`` = that step): returning
another k abandons the running step (its work is wasted) and starts k from scratch.
``fit`` rejects a policy that does not suit the bundle or workload, at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..bundle import Manifest
from ..registry import Registry
from .observation import Observation
from .params import Fail, num
from .workload import JobClass, Periodic

POLICIES: Registry[type] = Registry("policy")
BOTH = ("incremental", "non_incremental")


@dataclass(frozen=True)
class Policy:
    bundles: ClassVar[tuple[str, ...]] = BOTH  # which bundles it can drive
    watches_budget: ClassVar[bool] = False
    needs_foresight: ClassVar[bool] = False
    ewma_alpha: ClassVar[float] = 0.3  # weight of the newest observation in budget_estimate

    def decide(self, obs: Observation) -> int:
        raise NotImplementedError

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail) -> None:
        """Raise through ``fail`` if this policy cannot drive ``manifest``'s bundle."""


@POLICIES.register("greedy")
@dataclass(frozen=True)
class Greedy(Policy):
    """Run every stage; the deadline cuts whatever is running."""
    bundles: ClassVar = ("incremental",)

    def decide(self, obs: Observation) -> int:
        return obs.done + 1 if obs.done < obs.num_steps else 0


@POLICIES.register("deadline_aware")
@dataclass(frozen=True)
class DeadlineAware(Policy):
    """Start the next stage only if, at the estimated budget (EWMA of observed progress),
    it is predicted to finish before the deadline with ``margin`` to spare. The first
    ``min_stages`` stages always run (no result at all is the worst outcome)."""
    bundles: ClassVar = ("incremental",)
    margin: float = num(0.1, ge=0)
    min_stages: int = num(1, ge=0)
    ewma_alpha: float = num(0.3, gt=0, le=1)

    def decide(self, obs: Observation) -> int:
        k = obs.done + 1
        if k > len(obs.work_s):
            return 0
        if k <= self.min_stages:
            return k
        return k if obs.fits(k, obs.budget_estimate, self.margin) else 0


@POLICIES.register("confidence")
@dataclass(frozen=True)
class Confidence(DeadlineAware):
    """Stop as soon as the current result's confidence reaches ``threshold``; otherwise
    behave like ``deadline_aware``."""
    threshold: float = num(0.9, ge=0, le=1)

    def decide(self, obs: Observation) -> int:
        if obs.done and obs.confidence >= self.threshold:
            return 0
        return DeadlineAware.decide(self, obs)


@POLICIES.register("fixed")
@dataclass(frozen=True)
class Fixed(Policy):
    """Exactly ``k`` stages (incremental) or subnet ``k`` (non-incremental)."""
    k: int = num(ge=1)

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail) -> None:
        if self.k > manifest.num_stages:
            fail("k", f"at most {manifest.num_stages} (stages of {manifest.name})", self.k)

    def decide(self, obs: Observation) -> int:
        if obs.incremental:
            return obs.done + 1 if obs.done < self.k else 0
        return self.k if obs.done == 0 else 0


@POLICIES.register("pick_at_start")
@dataclass(frozen=True)
class PickAtStart(Policy):
    """Non-incremental: choose the largest subnet predicted (EWMA budget) to fit, else the
    smallest. With ``restart``, whenever the budget rises mid-run, abandon the running
    subnet for the largest one predicted to fit from scratch at the current budget (the
    abandoned work is wasted)."""
    bundles: ClassVar = ("non_incremental",)
    margin: float = num(0.1, ge=0)
    restart: bool = False
    ewma_alpha: float = num(0.3, gt=0, le=1)

    @property
    def watches_budget(self) -> bool:  # type: ignore[override]
        return self.restart

    def decide(self, obs: Observation) -> int:
        if obs.running:
            return self._upgrade(obs)
        if obs.done:
            return 0
        fitting = [k for k in range(1, obs.num_steps + 1)
                   if obs.fits(k, obs.budget_estimate, self.margin)]
        return fitting[-1] if fitting else 1

    def _upgrade(self, obs: Observation) -> int:
        for k in range(obs.num_steps, obs.running, -1):
            if obs.fits(k, obs.budget_now, self.margin):
                return k
        return obs.running


@POLICIES.register("oracle")
@dataclass(frozen=True)
class Oracle(Policy):
    """Knows the true future budget and whether each step classifies this frame right:
    runs up to the earliest step that is right and can finish by the deadline (if none
    is right, just the first step that can finish, for a result; if none can, nothing).

    Upper bound. Restricted to workloads whose jobs never overlap: one periodic class with
    ``deadline_ms + jitter_ms <= period_ms`` (checked by ``fit``). Then every job starts on
    an idle processor at its arrival a (the previous job's work all ends by its deadline,
    which is at most a), and no job affects another. Within a job, any policy's emitted
    result is a step j completed by the deadline d. Incremental: stages run back to back
    from a at the earliest, and ``finish_time`` is non-decreasing in the start time, so
    stage j cannot complete before the oracle's predicted back-to-back completion of
    stages 1..j; hence j is among the steps the oracle finds reachable. Non-incremental:
    subnet j, started from scratch at s >= a, finishes no earlier than when started at a,
    which the oracle checks. So whenever some policy emits a right result, a right result
    is reachable and the oracle emits one: its accuracy at the deadline is never lower,
    job by job, on the same trace and frames. (It uses the engine's own time function, so
    its predictions are exact, not estimates.)"""
    needs_foresight: ClassVar[bool] = True

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail) -> None:
        only = workload[0] if len(workload) == 1 else None
        arr = only.arrivals if only else None
        if not (isinstance(arr, Periodic) and only.deadline_ms + arr.jitter_ms <= arr.period_ms):
            fail("name", "a workload whose jobs never overlap for the oracle (one periodic "
                 "class with deadline_ms + jitter_ms <= period_ms): its optimality needs it",
                 "oracle")

    def decide(self, obs: Observation) -> int:
        if obs.incremental:
            return self._incremental(obs)
        if obs.done:
            return 0
        see = obs.foresight
        fitting = [k for k in range(1, obs.num_steps + 1)
                   if see.finish_s(obs.now_s, k) <= obs.deadline_s]
        right = [k for k in fitting if see.correct[k - 1]]
        return (right or fitting or [0])[0]

    def _incremental(self, obs: Observation) -> int:
        see, t = obs.foresight, obs.now_s
        if obs.done and see.correct[obs.done - 1]:
            return 0
        for k in range(obs.done + 1, obs.num_steps + 1):
            t = see.finish_s(t, k)
            if t > obs.deadline_s:
                break
            if see.correct[k - 1]:
                return obs.done + 1
        first_fits = obs.done == 0 and see.finish_s(obs.now_s, 1) <= obs.deadline_s
        return 1 if first_fits else 0
