"""Scheduling policies: after each step, run another step or stop and emit the result.

One small frozen dataclass per policy, registered in ``POLICIES``; its fields are its
validated parameters (``systems[i].policy`` in a scenario). ``decide(obs)`` maps an
:class:`~testbed.sim.observation.Observation` to the step to run next (0: stop). For an
incremental bundle the only possible step is ``obs.done + 1``; for a non-incremental one
any subnet k (run from scratch). Policies that set ``watches_budget`` are also asked while
a step runs, whenever the budget monitor's reading changes (``obs.running`` = that step,
``obs.remaining_s`` = what it still needs): returning another k abandons the running step
(its work is wasted) and starts k from scratch; returning 0 abandons it and stops.
``fit`` rejects a policy that does not suit the bundle or workload, at load time.

Every online policy reads the budget only through the platform's monitor (the same for
every system). ``GRID`` is the default tuning grid a policy brings to ``policy: auto``
(:mod:`testbed.tuning`); the oracles are bounds, never tuned or chosen by ``auto``.
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
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)
ALPHAS = (0.002, 0.01, 0.05, 0.25, 1.0)  # per 1 ms sample: memories of ~500, 100, 20, 4, 1 ms


@dataclass(frozen=True)
class Policy:
    bundles: ClassVar[tuple[str, ...]] = BOTH  # which bundles it can drive
    watches_budget: ClassVar[bool] = False
    needs_foresight: ClassVar[bool] = False     # a bound: sees the future budget
    knows_answers: ClassVar[bool] = False       # a bound: also sees which step is right
    ewma_alpha: ClassVar[float] = 0.3  # weight of each monitor sample in budget_estimate
    GRID: ClassVar[dict[str, tuple]] = {}       # default tuning grid for ``policy: auto``

    def decide(self, obs: Observation) -> int:
        raise NotImplementedError

    def choose(self, obs: Observation) -> int:
        """``decide``, checked against the bundle (what every engine calls): the next
        stage of an incremental bundle or any subnet of an up-front one, or 0 to stop;
        anything else is a bug in the policy."""
        k = self.decide(obs)
        if k and (k != obs.done + 1 if obs.incremental else not 0 < k <= len(obs.work_s)):
            raise RuntimeError(f"policy {type(self).__name__} chose step {k!r} after "
                               f"{obs.done} of {len(obs.work_s)} steps "
                               f"(incremental: {obs.incremental})")
        return k

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail,
            faults=None) -> None:
        """Raise through ``fail`` if this policy cannot drive ``manifest``'s bundle."""

    @classmethod
    def grid(cls, manifest: Manifest) -> dict[str, tuple]:
        """The default tuning grid for ``manifest``'s bundle (``policy: auto``)."""
        return dict(cls.GRID)

    @classmethod
    def canonical(cls, params: dict) -> dict:
        """``params`` with settings that cannot matter reset to their defaults, so that a
        tuning grid does not try one behaviour twice."""
        return params


def most_accurate(obs: Observation, steps) -> int:
    """Of ``steps``, the one whose model is most accurate (the larger on a tie); 0: none."""
    best = 0
    for k in steps:
        if not best or obs.quality[k - 1] >= obs.quality[best - 1]:
            best = k
    return best


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
    """Start the next stage only if, at the estimated budget (EWMA of the monitor's
    samples), it is predicted to finish before the deadline with ``margin`` (a fraction of
    its duration) to spare. The first ``min_stages`` stages always run (no result at all
    is the worst outcome)."""
    bundles: ClassVar = ("incremental",)
    GRID: ClassVar = {"margin": MARGINS, "ewma_alpha": ALPHAS}
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
    GRID: ClassVar = {"threshold": (0.8, 0.9, 0.95, 0.99), "margin": (0.0, 0.1, 0.3, 0.5),
                      "ewma_alpha": (0.01, 0.25, 1.0)}
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

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail,
            faults=None) -> None:
        if self.k > manifest.num_stages:
            fail("k", f"at most {manifest.num_stages} (stages of {manifest.name})", self.k)

    @classmethod
    def grid(cls, manifest: Manifest) -> dict[str, tuple]:
        return {"k": tuple(range(1, manifest.num_stages + 1))}

    def decide(self, obs: Observation) -> int:
        if obs.incremental:
            return obs.done + 1 if obs.done < self.k else 0
        return self.k if obs.done == 0 else 0


@dataclass(frozen=True)
class Replanning(Policy):
    """Shared by the up-front policies: with ``restart``, re-plan at every change of the
    monitor's reading while a subnet runs. Downgrade: when the running subnet, continued
    at the budget now, is predicted to miss, abandon it for the largest subnet that still
    fits from scratch (none fits: keep it; the budget may recover). With ``upgrade`` too:
    abandon it for a larger subnet that fits from scratch."""
    bundles: ClassVar = ("non_incremental",)
    margin: float = num(0.1, ge=0)
    restart: bool = False
    upgrade: bool = True
    ewma_alpha: float = num(0.3, gt=0, le=1)

    @property
    def watches_budget(self) -> bool:  # type: ignore[override]
        return self.restart

    @classmethod
    def canonical(cls, params: dict) -> dict:
        return params if params.get("restart") else {**params, "upgrade": True}

    def replan(self, obs: Observation, smallest: int = 1) -> int:
        """The subnet to run instead of ``obs.running`` (itself: keep it)."""
        k, now = obs.running, obs.budget_now
        if self.upgrade:
            for j in range(obs.num_steps, k, -1):
                if obs.fits(j, now, self.margin):
                    return j
        if obs.running_fits(now, self.margin):
            return k
        for j in range(k - 1, smallest - 1, -1):
            if obs.fits(j, now, self.margin):
                return j
        return k

    def largest_fitting(self, obs: Observation, smallest: int = 1) -> int:
        fitting = [k for k in range(smallest, obs.num_steps + 1)
                   if obs.fits(k, obs.budget_estimate, self.margin)]
        return most_accurate(obs, fitting)


@POLICIES.register("pick_at_start")
@dataclass(frozen=True)
class PickAtStart(Replanning):
    """Non-incremental: choose the most accurate subnet predicted (EWMA budget, ``margin``)
    to finish by the deadline, else the smallest; with ``restart``, re-plan mid-run when
    the budget changes (downgrade to a subnet that still fits, and with ``upgrade`` also
    to a larger one; abandoned work is wasted)."""
    GRID: ClassVar = {"margin": MARGINS, "ewma_alpha": ALPHAS, "restart": (False, True),
                      "upgrade": (False, True)}

    def decide(self, obs: Observation) -> int:
        if obs.running:
            return self.replan(obs)
        if obs.done:
            return 0
        return self.largest_fitting(obs) or 1


@POLICIES.register("safe_first")
@dataclass(frozen=True)
class SafeFirst(Replanning):
    """Non-incremental: run the smallest subnet first, so an answer is in hand; then, from
    scratch, the most accurate larger subnet predicted (EWMA budget, ``margin``) to finish
    in the time left, if any; emit the best completed result (a second subnet cut by the
    deadline leaves the first one's answer). ``confidence`` < 1: stop after the first
    subnet when its confidence reaches it. ``restart``: re-plan the second subnet mid-run
    as ``pick_at_start`` does (never below subnet 2)."""
    GRID: ClassVar = {"margin": MARGINS, "ewma_alpha": ALPHAS, "restart": (False, True),
                      "confidence": (0.9, 1.0)}
    confidence: float = num(1.0, ge=0, le=1)

    def decide(self, obs: Observation) -> int:
        if obs.running == 1:
            return 1  # the answer in hand comes first
        if obs.running:
            return self.replan(obs, smallest=2)
        if not obs.done:
            return 1
        if obs.done > 1 or self.confidence < 1 and obs.confidence >= self.confidence:
            return 0
        return self.largest_fitting(obs, smallest=2)


def overlap_free(workload: tuple[JobClass, ...], faults=None) -> bool:
    """Jobs can never overlap: one periodic class with ``deadline_ms + jitter_ms <=
    period_ms`` and no sensor bursts among the faults."""
    only = workload[0] if len(workload) == 1 else None
    arr = only.arrivals if only else None
    bursts = faults is not None and bool(getattr(faults, "bursts", None))
    return (isinstance(arr, Periodic) and only.deadline_ms + arr.jitter_ms <= arr.period_ms
            and not bursts)


@dataclass(frozen=True)
class Bound(Policy):
    """An upper bound, valid only where no job can affect another (checked by ``fit``)."""
    needs_foresight: ClassVar[bool] = True

    def fit(self, manifest: Manifest, workload: tuple[JobClass, ...], fail: Fail,
            faults=None) -> None:
        if not overlap_free(workload, faults):
            fail("name", "a workload whose jobs never overlap for a bound (one periodic "
                 "class with deadline_ms + jitter_ms <= period_ms, no sporadic class, no "
                 "frame bursts in faults): its optimality needs it", self.label)

    @property
    def label(self) -> str:
        return next(n for n in POLICIES if POLICIES.get(n) is type(self))


@POLICIES.register("budget_oracle")
@dataclass(frozen=True)
class BudgetOracle(Bound):
    """Knows the true future budget and which stages will fail, not which answer is right:
    runs the plan that emits the most accurate model (measured test accuracy) that can
    finish by the deadline. Incremental: stages back to back up to the most accurate
    reachable step. Non-incremental: the most accurate subnet that finishes from now.

    The bound each system could reach with perfect budget prediction, for workloads whose
    jobs never overlap (then every job starts on an idle processor at its arrival and no
    job affects another; see ``oracle``): any online policy emits a step j completed by
    the deadline, j is among the steps this oracle finds reachable, and it emits the most
    accurate of them. So job by job its emitted model is at least as accurate (utility,
    hit at quality) and it has a result whenever any policy does (hit rate). It does not
    bound accuracy at the deadline: a less accurate model can be right where a better one
    is wrong."""

    def decide(self, obs: Observation) -> int:
        see = obs.foresight
        if not obs.incremental:
            if obs.done:
                return 0
            fits = [k for k in range(1, obs.num_steps + 1)
                    if see.usable[k - 1] and see.finish_s(obs.now_s, k) <= obs.deadline_s]
            return most_accurate(obs, fits)
        t, reachable = obs.now_s, []
        for k in range(obs.done + 1, obs.num_steps + 1):
            t = see.finish_s(t, k)
            if t > obs.deadline_s or not see.usable[k - 1]:
                break
            reachable.append(k)
        target = most_accurate(obs, reachable)
        better = target and (not obs.done or obs.quality[target - 1] > obs.quality[obs.done - 1])
        return obs.done + 1 if better else 0


@POLICIES.register("oracle")
@dataclass(frozen=True)
class Oracle(Bound):
    """Knows the true future budget and whether each step classifies this frame right:
    runs up to the earliest step that is right and can finish by the deadline (if none
    is right, just the first step that can finish, for a result; if none can, nothing).

    Upper bound. Restricted to workloads whose jobs never overlap: one periodic class with
    ``deadline_ms + jitter_ms <= period_ms`` and no frame bursts (checked by ``fit``).
    Then every job starts on an idle processor at its arrival a (the previous job's work
    all ends by its deadline, which is at most a), and no job affects another. Within a
    job, any policy's emitted result is a step j completed by the deadline d. Incremental:
    stages run back to back from a at the earliest, and ``finish_time`` is non-decreasing
    in the start time, so stage j cannot complete before the oracle's predicted
    back-to-back completion of stages 1..j; hence j is among the steps the oracle finds
    reachable. Non-incremental: subnet j, started from scratch at s >= a, finishes no
    earlier than when started at a, which the oracle checks. So whenever some policy
    emits a right result, a right result is reachable and the oracle emits one: its
    accuracy at the deadline is never lower, job by job, on the same trace and frames.
    (It uses the engine's own time function, so its predictions are exact, not
    estimates.)"""
    knows_answers: ClassVar[bool] = True

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
