"""One system's processor: a SimPy process that runs its jobs step by step.

Created by :mod:`testbed.sim.engine` once per system. The process idles until the next
arrival, or takes the next frame from the :class:`WaitingRoom` and runs the whole job at
once: at each step boundary it admits the frames that arrived meanwhile, asks the policy
(an :class:`Observation`), and computes when the step ends with the trace's integral, so
SimPy sees one timeout per job however often the budget changes (an idle wait needs none
of its own: the next job's timeout covers it). Frames
enter the room lazily, in arrival order, at the time they arrived, so this is exactly a
processor fed by a separate arrival process. Emits one :class:`JobRecord` per frame and,
when asked, one :class:`StageEvent` per step (completed, cut by the deadline or abandoned).
Faults (:mod:`testbed.sim.faults`): a ``lost`` frame is recorded as dropped when it would
have arrived; a stage that raises (``frame.fails``) costs its work, which is wasted, and
ends the job with the last good result; a :class:`~testbed.sim.faults.Signal` distorts
the budget the policy is told about (not the one the platform serves).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Iterator

import simpy

from .faults import Signal
from .observation import Foresight, Observation
from .outcomes import Outcomes
from .platform import step_costs
from .records import JobRecord, StageEvent
from .trace import Trace
from .waiting import WaitingRoom
from .workload import Frame

Sink = Callable[[object], None]
_observation = tuple.__new__  # Observation(...) without NamedTuple's Python-level __new__


class _Job:
    """Bookkeeping of the frame on the processor."""
    __slots__ = ("frame", "row", "priority", "done", "runs", "conf", "executed", "useful",
                 "started", "first", "final", "foresight", "failed")

    def __init__(self, frame: Frame, row: int, priority: int):
        self.frame, self.row, self.priority = frame, row, priority
        self.done = self.runs = 0
        self.conf = self.executed = self.useful = 0.0
        self.started = self.first = self.final = self.foresight = None
        self.failed = 0


class Processor:
    def __init__(self, env: simpy.Environment, scenario, spec, seed: int, trace: Trace,
                 outcomes: Outcomes, emit_record: Sink | None, emit_event: Sink | None,
                 signal: Signal | None = None):
        self.env, self.name, self.seed, self.policy = env, spec.name, seed, spec.policy
        self.incremental = spec.bundle.manifest.incremental
        self.watches = spec.policy.watches_budget
        self.classes = scenario.workload
        self.room = WaitingRoom(scenario.workload)
        self.priority = [c.priority for c in self.classes]
        self.can_preempt = [any(p > c.priority for p in self.priority) for c in self.classes]
        self._costs(scenario, spec, trace)
        self.integral = trace._integral
        self.outcomes = outcomes
        self.row_of, self.conf = outcomes.row_of, outcomes.conf
        self.class_names = [c.name for c in self.classes]
        self.last = len(self.work_v) if self.incremental else -1  # a job ends after this step
        self.holds = not self.integral.period
        self.seg_lo = self.seg_hi = self.seg_rate = 0.0  # budget_now on [seg_lo, seg_hi)
        self.emit_record, self.emit_event = emit_record, emit_event
        self.signal = signal
        self.alpha = getattr(self.policy, "ewma_alpha", 0.3)
        self.estimate = 1.0  # online budget estimate (fraction of peak), before any evidence
        self.stream: Iterator[Frame] = iter(())
        self.next_frame: Frame | None = None
        self.next_arrival = math.inf

    def _costs(self, scenario, spec, trace: Trace) -> None:
        costs = step_costs(spec.bundle, scenario.platform, scenario.cost_model, spec.profile_ms)
        peak = scenario.platform.peak_gmacs
        self.work_v = [w / trace.macs_per_value_s(peak) for w in costs.work_macs]  # trace units
        self.work_s = tuple(w / (peak * 1e9) for w in costs.work_macs)  # seconds at full budget
        self.macs = costs.macs
        self.to_fraction = 1.0 if trace.column == "budget" else 1.0 / peak
        self.j_per_mac = scenario.platform.pj_per_mac * 1e-12

    def start(self, stream: Iterator[Frame]) -> None:
        self.stream = stream
        self._advance()
        self.env.process(self._process())

    def _process(self):
        """Idle until the next arrival, or run a job and wait for its end."""
        env, pop, run, dropped, now = self.env, self.room.pop, self._run, [], 0.0
        while True:
            if self.next_arrival <= now:
                self._admit(now)
            frame = pop(now, dropped)
            if dropped:
                for lost in dropped:
                    self._record_dropped(lost)
                dropped.clear()
            if frame is not None:
                now = run(frame, now)
                yield env.timeout(max(0.0, now - env.now))
            elif self.next_frame is None:
                return
            else:
                now = self.next_arrival

    def _advance(self) -> None:
        self.next_frame = next(self.stream, None)
        self.next_arrival = math.inf if self.next_frame is None else self.next_frame.arrival_s

    def _admit(self, t: float, until_included: bool = True) -> None:
        """Frames arrived by ``t`` (or before ``t``) enter the waiting room, which applies
        the overrun rules as they stood at their arrival."""
        arrive = self.room.arrive
        while self.next_arrival < t or until_included and self.next_arrival == t:
            frame = self.next_frame
            dropped = [frame] if frame.lost else arrive(frame)
            if dropped:
                for lost in dropped:
                    self._record_dropped(lost)
            self._advance()

    def _run(self, frame: Frame, t: float) -> float:
        """One job from t until the policy stops, the deadline or a preemption; returns
        when the processor is free again."""
        job = self._begin(frame)
        deadline, last, room = frame.deadline_s, self.last, self.room
        preemptible = self.can_preempt[frame.job_class]
        finish, work_v, decide = self.integral.finish, self.work_v, self._decide
        while t < deadline and job.done != last:
            if self.next_arrival <= t:
                self._admit(t)
            if preemptible and room.has_higher(job.priority, t):
                break
            k = decide(job, t, 0)
            if not k:
                break
            if job.started is None:
                job.started = t
            end = finish(t, work_v[k - 1])
            if self.watches:
                k, t, end = self._watch(job, k, t, end)
                if not k:
                    break
            if end > deadline:
                self._cut(job, k, t, deadline)
                t = deadline
                break
            if frame.fails >> (k - 1) & 1:
                self._fail(job, k, t, end)
                t = end
                break
            self._complete(job, k, t, end)
            t = end
        if self.next_arrival < t:
            self._admit(t, until_included=False)  # arrived while this job ran
        room.running_class = -1
        self._record(job, t)
        return t

    def _watch(self, job: _Job, k: int, t: float, end: float) -> tuple[int, float, float]:
        """Ask the policy at each budget change before step k ends: keep k, switch to
        another step from scratch, or stop (0). Returns (step, its start, its end)."""
        change = self.integral.next_change(t)
        while change < min(end, job.frame.deadline_s):
            self._admit(change)
            choice = self._decide(job, change, k)
            if choice != k:
                self._cut(job, k, t, change)
                if not choice:
                    return 0, change, change
                k, t = choice, change
                end = self.integral.finish(t, self.work_v[k - 1])
            change = self.integral.next_change(change)
        return k, t, end

    def _begin(self, frame: Frame) -> _Job:
        job = _Job(frame, self.row_of[frame.sample_id], self.priority[frame.job_class])
        if self.policy.needs_foresight:
            job.foresight = Foresight(self._foreseen(frame, job.row), self._finish_step)
        self.room.running_class = frame.job_class
        return job

    def _foreseen(self, frame: Frame, row: int) -> tuple[bool, ...]:
        """Which steps would give a right result on this frame, stage failures included:
        a failing step gives none (and, incremental, neither does any later one)."""
        correct = list(self.outcomes.correct[row])
        for k in range(1, len(correct) + 1):
            if frame.fails >> (k - 1) & 1:
                stop = len(correct) if self.incremental else k
                correct[k - 1:stop] = [False] * (stop - k + 1)
        return tuple(correct)

    def _finish_step(self, start_s: float, k: int) -> float:
        return self.integral.finish(start_s, self.work_v[k - 1])

    def _decide(self, job: _Job, t: float, running: int) -> int:
        if self.signal is None:
            estimate = self.estimate
            budget_now = self.seg_rate if self.seg_lo <= t < self.seg_hi else self._budget_now(t)
        else:
            estimate, budget_now = self._told(t)
        obs = _observation(Observation, (t, job.frame.deadline_s, job.done, running, job.conf,
                                         estimate, budget_now, self.work_s,
                                         self.incremental, self.room.size, job.foresight))
        k = self.policy.decide(obs)
        if k and (k != job.done + 1 if self.incremental else not 0 < k <= len(self.work_v)):
            raise RuntimeError(f"policy {type(self.policy).__name__} chose step {k!r} after "
                               f"{job.done} of {len(self.work_v)} steps "
                               f"(incremental: {self.incremental})")
        return k

    def _budget_now(self, t: float) -> float:
        """The budget at t as a fraction of peak; on a holding trace, also remember the
        row it is on so the next decisions on that row need no search."""
        integral = self.integral
        if not self.holds:
            return integral.rate(t) * self.to_fraction
        T = integral.T
        i = bisect_right(T, t) - 1  # as Integral.rate: T[i] <= t < T[i + 1]
        self.seg_lo, self.seg_hi = T[i], T[i + 1] if i + 1 < len(T) else math.inf
        self.seg_rate = integral.V[i] * self.to_fraction
        return self.seg_rate

    def _told(self, t: float) -> tuple[float, float]:
        """(estimate, budget now) as the mis-estimated budget signal tells the policy."""
        factor = self.signal.factor(t)
        now = self.integral.rate(self.signal.reading_time(t)) * self.to_fraction
        return self.estimate * factor, now * factor

    def _fail(self, job: _Job, k: int, start: float, end: float) -> None:
        """Step k was served in full but raised: its work is wasted, the result stays."""
        macs = self.macs[k - 1]
        job.executed += macs
        job.failed = k
        if end > start:
            self.estimate += self.alpha * (self.work_v[k - 1] / (end - start) * self.to_fraction
                                           - self.estimate)
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k, start, end,
                                       False, macs))

    def _complete(self, job: _Job, k: int, start: float, end: float) -> None:
        macs = self.macs[k - 1]
        job.executed += macs
        job.useful = job.useful + macs if self.incremental else macs
        job.done, job.runs, job.conf = k, job.runs + 1, self.conf[job.row][k - 1]
        if job.first is None:
            job.first = end
        job.final = end
        if end > start:
            self.estimate += self.alpha * (self.work_v[k - 1] / (end - start) * self.to_fraction
                                           - self.estimate)
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k, start, end,
                                       True, macs))

    def _cut(self, job: _Job, k: int, start: float, stop: float) -> None:
        """Step k stops unfinished at ``stop`` (deadline or abandoned): its work is wasted."""
        served = self.integral.at(stop) - self.integral.at(start)
        work = self.work_v[k - 1]
        macs = self.macs[k - 1] * min(1.0, served / work) if work > 0 else 0.0
        job.executed += macs
        if stop > start:
            self.estimate += self.alpha * (served / (stop - start) * self.to_fraction
                                           - self.estimate)
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k, start, stop,
                                       False, macs))

    def _record(self, job: _Job, free: float) -> None:
        """``free``: when the processor is free again (the job's busy time ends)."""
        if self.emit_record is None:
            return
        f, done = job.frame, job.done
        busy = 0.0 if job.started is None else free - job.started
        correct = bool(done) and self.outcomes.correct[job.row][done - 1]
        self.emit_record(JobRecord(
            self.name, self.seed, f.job_id, self.class_names[f.job_class], f.sample_id,
            f.arrival_s, f.deadline_s, False, job.runs, done, done > 0, correct,
            job.conf, job.executed, max(0.0, job.executed - job.useful),
            job.executed * self.j_per_mac, job.started, job.first, job.final, f.fault,
            job.failed, busy))

    def _record_dropped(self, f: Frame) -> None:
        if self.emit_record is not None:
            self.emit_record(JobRecord(
                self.name, self.seed, f.job_id, self.class_names[f.job_class], f.sample_id,
                f.arrival_s, f.deadline_s, True, 0, 0, False, False, 0.0, 0.0, 0.0, 0.0,
                None, None, None, f.fault))
