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
the budget the policy is told about (not the one the platform serves). Policies learn
about the budget only from the platform's :class:`~testbed.sim.monitor.Monitor`; one
that watches the budget is asked again whenever the monitor's reading changes mid-step.
Under ``cost_model: latency`` with variability (:mod:`testbed.sim.latency`) each job's
steps cost their median times a multiplier drawn for (seed, job, step): the processor
and the oracles' :class:`Foresight` charge the drawn work, the policies see the medians;
a latency model's ``job_start`` table adds, to the first graph of a job, the start cost
for the time the processor idled before it (:func:`testbed.sim.latency.start_ms`), and its
``later_start`` table, where calibrated, adds to each later graph of an incremental job
what the same gap costs it.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import simpy

from .faults import Signal
from .latency import Draws, stage_dists, start_ms
from .monitor import Monitor, distorted_signal, true_signal
from .observation import Foresight, Observation
from .outcomes import Outcomes
from .platform import step_costs
from .records import StageEvent, dropped_record, job_record
from .trace import Trace
from .waiting import WaitingRoom
from .workload import Frame

Sink = Callable[[object], None]


class _Job:
    """Bookkeeping of the frame on the processor."""
    __slots__ = ("frame", "row", "priority", "done", "runs", "conf", "executed", "useful",
                 "started", "first", "final", "foresight", "failed", "work")

    def __init__(self, frame: Frame, row: int, priority: int):
        self.frame, self.row, self.priority = frame, row, priority
        self.done = self.runs = 0
        self.conf = self.executed = self.useful = 0.0
        self.started = self.first = self.final = self.foresight = None
        self.failed = 0
        self.work: tuple[float, ...] = ()  # step k's work in trace units, as drawn


class Processor:
    def __init__(self, env: simpy.Environment, scenario, spec, seed: int, trace: Trace,
                 outcomes: Outcomes, emit_record: Sink | None, emit_event: Sink | None,
                 signal: Signal | None = None, sensed: Trace | None = None, redraw: int = 0):
        self.env, self.name, self.seed, self.policy = env, spec.name, seed, spec.policy
        self.redraw = redraw        # > 0: independent execution-time draws (latency.Draws)
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
        self.emit_record, self.emit_event = emit_record, emit_event
        seen = self.integral if sensed is None else sensed._integral  # what the monitor reads
        view = (true_signal(seen, self.to_fraction) if signal is None
                else distorted_signal(seen, self.to_fraction, signal))
        self.monitor = Monitor(scenario.platform.monitor_ms / 1e3, self.policy.ewma_alpha, view)
        self.stream: Iterator[Frame] = iter(())
        self.next_frame: Frame | None = None
        self.next_arrival = math.inf
        self.free_since = -math.inf  # when the processor last went idle (job start costs)

    def _costs(self, scenario, spec, trace: Trace) -> None:
        costs = step_costs(spec.bundle, scenario.platform, scenario.cost_model, spec.profile_ms,
                           getattr(spec, "graphs", None))
        peak = scenario.platform.peak_gmacs
        self.work_v = [w / trace.macs_per_value_s(peak) for w in costs.work_macs]  # trace units
        self.work_s = tuple(w / (peak * 1e9) for w in costs.work_macs)  # seconds at full budget
        self.macs = costs.macs
        self.quality = tuple(s.accuracy for s in spec.bundle.manifest.stages)
        self.to_fraction = 1.0 if trace.column == "budget" else 1.0 / peak
        self.j_per_mac = scenario.platform.pj_per_mac * 1e-12
        latency = scenario.platform.latency if scenario.cost_model == "latency" else None
        dists = latency and stage_dists(latency.variability, spec.bundle.manifest.name,
                                        len(self.work_v))
        self.draws = Draws(self.seed, dists, self.redraw) if dists else None
        per_ms = peak * 1e6 / trace.macs_per_value_s(peak)  # trace units per ms at full budget
        self.start_v = None if not (latency and latency.job_start) else \
            (lambda gap_s: start_ms(latency, gap_s, peak) * per_ms)
        self.later_v = None if not (latency and latency.later_start) else \
            (lambda gap_s: start_ms(latency, gap_s, peak, later=True) * per_ms)

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
        deadline, last, room = frame.deadline_s, self.last, self.room
        if self.integral.rate(t) <= 0:  # the policy runs on this processor: not in a stall
            t = min(self.integral.serving_from(t), max(t, deadline))
        job = self._begin(frame, t)
        preemptible = self.can_preempt[frame.job_class]
        finish, work_v, decide = self.integral.finish, job.work, self._decide
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
        if job.started is not None:
            self.free_since = t
        return t

    def _watch(self, job: _Job, k: int, t: float, end: float) -> tuple[int, float, float]:
        """Ask the policy whenever the monitor's reading changes before step k ends: keep
        k, switch to another step from scratch, or stop (0). Returns (step, start, end)."""
        change = self.monitor.next_reading(t)
        while change < min(end, job.frame.deadline_s):
            self._admit(change)
            choice = self._decide(job, change, k, self._remaining_s(k, t, change))
            if choice != k:
                self._cut(job, k, t, change)
                if not choice:
                    return 0, change, change
                k, t = choice, change
                end = self.integral.finish(t, job.work[k - 1])
            change = self.monitor.next_reading(change)
        return k, t, end

    def _remaining_s(self, k: int, start: float, now: float) -> float:
        """Seconds at full budget that step k, started at ``start``, still needs at ``now``."""
        work = self.work_v[k - 1]
        if work <= 0:
            return 0.0
        served = self.integral.at(now) - self.integral.at(start)
        return max(0.0, 1.0 - served / work) * self.work_s[k - 1]

    def _begin(self, frame: Frame, t: float) -> _Job:
        job = _Job(frame, self.row_of[frame.sample_id], self.priority[frame.job_class])
        job.work = self.work_v if self.draws is None else \
            tuple(w * m for w, m in zip(self.work_v, self.draws.job(frame.job_id)))
        if self.start_v is not None or self.later_v is not None:
            # the job's first graph (step 1, or the one subnet graph of a non-incremental
            # job) pays job_start for the idle gap, an incremental job's later graphs
            # later_start
            gap, inc = t - self.free_since, self.incremental
            first = 0.0 if self.start_v is None else self.start_v(gap)
            later = 0.0 if self.later_v is None or not inc else self.later_v(gap)
            job.work = tuple(w + (first if k == 0 or not inc else later)
                             for k, w in enumerate(job.work))
        if self.policy.needs_foresight:
            usable = self._usable(frame)
            correct = self._foreseen(usable, job.row) if self.policy.knows_answers else None
            finish, work = self.integral.finish, job.work
            job.foresight = Foresight(lambda start_s, k: finish(start_s, work[k - 1]),
                                      usable, correct)
        self.room.running_class = frame.job_class
        return job

    def _usable(self, frame: Frame) -> tuple[bool, ...]:
        """Which steps would give a result on this frame: a failing step gives none (and,
        incremental, neither does any later one, which needs the failed one's state)."""
        usable, failed = [], False
        for k in range(1, len(self.work_v) + 1):
            fails = bool(frame.fails >> (k - 1) & 1)
            failed = failed or fails if self.incremental else fails
            usable.append(not failed)
        return tuple(usable)

    def _foreseen(self, usable: tuple[bool, ...], row: int) -> tuple[bool, ...]:
        """Which steps would give a right result on this frame, stage failures included."""
        return tuple(ok and right for ok, right in zip(usable, self.outcomes.correct[row]))

    def _decide(self, job: _Job, t: float, running: int, remaining_s: float = 0.0) -> int:
        estimate, budget_now = self.monitor.read(t)
        # by position, in field order (3x cheaper than by keyword, and built ~3x per job)
        obs = Observation(t,                     # now_s
                          job.frame.deadline_s,  # deadline_s
                          job.done,              # done
                          running,               # running
                          job.conf,              # confidence
                          estimate,              # budget_estimate
                          budget_now,            # budget_now
                          self.work_s,           # work_s
                          self.incremental,      # incremental
                          self.room.size,        # waiting
                          self.quality,          # quality
                          remaining_s,           # remaining_s
                          job.foresight)         # foresight
        return self.policy.choose(obs)

    def _fail(self, job: _Job, k: int, start: float, end: float) -> None:
        """Step k was served in full but raised: its work is wasted, the result stays."""
        macs = self.macs[k - 1]
        job.executed += macs
        job.failed = k
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
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k, start, end,
                                       True, macs))

    def _cut(self, job: _Job, k: int, start: float, stop: float) -> None:
        """Step k stops unfinished at ``stop`` (deadline or abandoned): its work is wasted."""
        served = self.integral.at(stop) - self.integral.at(start)
        work = job.work[k - 1]
        macs = self.macs[k - 1] * min(1.0, served / work) if work > 0 else 0.0
        job.executed += macs
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k, start, stop,
                                       False, macs))

    def _record(self, job: _Job, free: float) -> None:
        """``free``: when the processor is free again (the job's busy time ends)."""
        if self.emit_record is None:
            return
        done = job.done
        self.emit_record(job_record(
            self.name, self.seed, job.frame, self.class_names[job.frame.job_class], job, done,
            bool(done) and self.outcomes.correct[job.row][done - 1],
            self.quality[done - 1] if done else 0.0, self.j_per_mac,
            0.0 if job.started is None else free - job.started))

    def _record_dropped(self, f: Frame) -> None:
        if self.emit_record is not None:
            self.emit_record(dropped_record(self.name, self.seed, f,
                                            self.class_names[f.job_class]))
