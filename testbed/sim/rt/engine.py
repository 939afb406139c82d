"""The task-set platform: one system's DNN workload classes and the scenario's non-DNN
tasks on one processor under a preemptive scheduler, simulated as one SimPy process.

Called by :mod:`testbed.sim.engine` for a scenario whose ``budget:`` is a
:class:`~testbed.sim.rt.tasks.TaskSet`, once per system and seed. The scheduler process
(:class:`Platform`) releases the jobs that arrived, asks the scheduler
(:mod:`~testbed.sim.rt.schedulers`) which ready job runs, charges a context switch when
that job is not the one that ran just before, and runs it at full speed until the next
event: it completes, a release may preempt it, or (a DNN job) its step ends or its
deadline passes. The process is the only one in its SimPy environment, so SimPy's clock
is moved (one timeout) when a job ends and across idle gaps, not at every preemption. A
DNN job is a task job made of steps: at each step boundary it goes back to the
scheduler (an incremental job gives the processor back between steps) and, when it runs
again, its policy decides the next step from an
:class:`~testbed.sim.observation.Observation` whose budget comes from the class's
:class:`~testbed.sim.rt.monitor.CapacityMonitor`; ``preemption: stage`` makes a running
step non-preemptible. A policy that watches the budget is asked again, as on a fluid
platform, whenever its monitor's reading changes while its step is under way: when the
step resumes after a preemption, and at the next sample times, as the preemption leaves
the monitor's window. DNN jobs keep the fluid model's records (one
:class:`JobRecord` per frame, :class:`StageEvent` per step), overrun rules and deadline
cuts; unlike it, a job preempted by a higher-priority frame resumes afterwards if its
deadline allows. Non-DNN jobs run to completion (a late job is a deadline miss, not
aborted); their worst response times, misses and RTA bounds (:mod:`.analysis`) are
returned per task.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Iterator

import simpy

from ..latency import Draws, stage_dists
from ..observation import Observation
from ..outcomes import Outcomes, replay_outcomes
from ..platform import step_costs
from ..records import StageEvent, dropped_record, job_record
from ..workload import Frame
from .analysis import RtaTask, response_bounds
from .monitor import CapacityMonitor
from .schedulers import SCHEDULERS
from .tasks import Arrivals, TaskSet

EPS = 1e-12  # seconds: work left below this at a segment's end is float noise, not work


class Entity:
    """A task of the platform: a non-DNN task or a DNN workload class."""
    __slots__ = ("name", "priority", "dnn", "monitors")

    def __init__(self, name: str, priority: int, dnn: int):
        self.name, self.priority, self.dnn = name, priority, dnn  # dnn: class index, or -1
        self.monitors: list[CapacityMonitor] = []  # monitors its work takes capacity from


class Job:
    __slots__ = ("entity", "priority", "release", "nominal", "deadline", "left", "seq",
                 "done", "frame", "model", "row", "begun", "k", "k_start", "steps", "result",
                 "runs", "conf", "executed", "useful", "started", "first", "final", "failed",
                 "busy", "recheck", "seen")

    def __init__(self, entity: Entity, release: float, nominal: float, deadline: float,
                 left: float, seq: int):
        self.entity, self.priority = entity, entity.priority
        self.release, self.nominal, self.deadline = release, nominal, deadline
        self.left, self.seq, self.done = left, seq, False
        self.frame = None
        self.busy = 0.0


class Model:
    """What one DNN workload class runs on a platform: its bundle's step costs and
    verdicts, and its policy (the system's, or the class's own: ``classes:``)."""
    __slots__ = ("policy", "watches", "incremental", "work_s", "macs", "quality",
                 "last_step", "draws", "outcomes", "row_of", "conf", "correct")

    def __init__(self, scenario, seed: int, bundle, policy, outcomes: Outcomes,
                 profile_ms=None, graphs=None):
        self.policy, self.watches = policy, policy.watches_budget
        self.incremental = bundle.manifest.incremental
        costs = step_costs(bundle, scenario.platform, scenario.cost_model, profile_ms, graphs)
        peak = scenario.platform.peak_gmacs * 1e9
        self.work_s = tuple(w / peak for w in costs.work_macs)
        self.macs = costs.macs
        self.quality = tuple(s.accuracy for s in bundle.manifest.stages)
        self.last_step = len(self.work_s) if self.incremental else -1
        latency = scenario.platform.latency if scenario.cost_model == "latency" else None
        dists = latency and stage_dists(latency.variability, bundle.manifest.name,
                                        len(self.work_s))
        self.draws = Draws(seed, dists) if dists else None
        self.outcomes, self.row_of = outcomes, outcomes.row_of
        self.conf, self.correct = outcomes.conf, outcomes.correct


class Platform:
    def __init__(self, env: simpy.Environment, scenario, spec, seed: int, outcomes: Outcomes,
                 emit_record, emit_event):
        tasks: TaskSet = scenario.budget
        self.env, self.name, self.seed = env, spec.name, seed
        self.sched = SCHEDULERS.get(tasks.scheduler)()
        self.switch_s, self.stage = tasks.context_switch_us / 1e6, tasks.preemption == "stage"
        self.emit_record, self.emit_event = emit_record, emit_event
        self.classes = scenario.workload
        self.j_per_mac = scenario.platform.pj_per_mac * 1e-12
        base = Model(scenario, seed, spec.bundle, spec.policy, outcomes, spec.profile_ms,
                     getattr(spec, "graphs", None))
        self.models = [base] * len(self.classes)
        for c in getattr(spec, "classes", ()):
            self.models[c.job_class] = Model(scenario, seed, c.bundle, c.policy,
                                             replay_outcomes(c.bundle), c.profile_ms, c.graphs)
        self.dnn = [Entity(c.name, c.priority, i) for i, c in enumerate(self.classes)]
        self.others = [Entity(t.name, t.priority, -1) for t in tasks.tasks]
        self.monitors = [CapacityMonitor(scenario.platform.monitor_ms / 1e3,
                                         m.policy.ewma_alpha) for m in self.models]
        interferes = self.sched.interferes
        for e in self.dnn + self.others:
            e.monitors = [m for d, m in zip(self.dnn, self.monitors) if d is not e
                          and interferes(e, d)]
        self.live = [deque() for _ in self.dnn]   # per class: DNN jobs not ended, in order
        self.waiting = 0                          # DNN jobs released and not yet begun
        self.stats = {e.name: [0.0, 0, 0] for e in self.others}  # worst s, misses, jobs
        self.switches, self.seq, self.last = 0, 0, None
        self.spec, self.scenario = tasks, scenario

    # --- arrivals ----------------------------------------------------------------------

    def start(self, frames: Iterator[Frame]) -> None:
        duration = self.scenario.duration_s
        streams = [_tagged(Arrivals(t, i, self.seed, duration), i)
                   for i, t in enumerate(self.spec.tasks)]
        self.frames, self.tasks = frames, heapq.merge(*streams)
        self.next_frame = next(self.frames, None)
        self.next_task = next(self.tasks, None)
        self._next_release()
        self.env.process(self._process())

    def _next_release(self) -> None:
        f = math.inf if self.next_frame is None else self.next_frame.arrival_s
        self.next_release = min(f, math.inf if self.next_task is None else self.next_task[0])

    def _release(self, t: float) -> None:
        """Every job that arrived by t becomes ready (DNN frames under their overrun rule)."""
        while self.next_release <= t:
            frame, task = self.next_frame, self.next_task
            if task is None or frame is not None and frame.arrival_s <= task[0]:
                self._arrive(frame)
                self.next_frame = next(self.frames, None)
            else:
                release, nominal, i, work = task
                entity = self.others[i]
                self._ready(Job(entity, release, nominal,
                                nominal + self.spec.tasks[i].deadline_s, work, self.seq))
                self.next_task = next(self.tasks, None)
            self._next_release()

    def _ready(self, job: Job) -> None:
        self.seq += 1
        self.sched.on_release(job)

    def _arrive(self, frame: Frame) -> None:
        if frame.lost:
            return self._record_dropped(frame)
        c = frame.job_class
        live, rule, now = self.live[c], self.classes[c].overrun, frame.arrival_s
        if rule == "skip_new" and any(j.deadline > now for j in live):
            return self._record_dropped(frame)
        if rule == "drop_old":
            for job in [j for j in live if not j.begun]:
                self._end(job, now, dropped=True)
        model = self.models[c]
        job = Job(self.dnn[c], now, now, frame.deadline_s, 0.0, self.seq)
        job.frame, job.model, job.row = frame, model, model.row_of[frame.sample_id]
        job.begun, job.k, job.k_start, job.failed = False, 0, None, 0
        job.recheck, job.seen = False, 1.0
        job.steps = model.work_s if model.draws is None else \
            tuple(w * m for w, m in zip(model.work_s, model.draws.job(frame.job_id)))
        job.result, job.runs, job.conf, job.executed, job.useful = 0, 0, 0.0, 0.0, 0.0
        job.started = job.first = job.final = None
        live.append(job)
        self.waiting += 1
        self._ready(job)

    # --- the scheduler process -----------------------------------------------------------

    def _process(self):
        env, t = self.env, 0.0
        while True:
            if self.next_release <= t:
                self._release(t)
            job = self._pick(t)
            if job is None:
                if self.next_release == math.inf:
                    if t > env.now:
                        yield env.timeout(t - env.now)
                    return
                t = self.next_release
                yield env.timeout(t - env.now)
                self.last = None
                continue
            begin = t
            if job is not self.last:
                t += self.switch_s
                self.switches += 1
                self.last = job
            if job.frame is None:
                end = max(t, min(t + job.left, self.next_release))
            else:
                cap = job.deadline if self.stage else min(job.deadline, self.next_release)
                if job.model.watches:  # ask again when the monitor's reading may change
                    cap = min(cap, self.monitors[job.entity.dnn].next_change(t))
                end = max(t, min(t + job.left, cap))
                if job.k_start is None:
                    job.k_start = t
                    if job.started is None:
                        job.started = t
            for m in job.entity.monitors:
                m.add(begin, end)
            job.busy += end - begin
            self._advance(job, t, end)
            t = end
            if job.done and t > env.now:  # SimPy's clock follows at each job's end
                yield env.timeout(t - env.now)

    def _advance(self, job: Job, t: float, end: float) -> None:
        """``job`` ran from t to end: finish it, a step of it, or note what is left."""
        if job.frame is None:
            if t + job.left <= end + EPS:
                self._finish_task(job, end)
            else:
                job.left -= end - t
            return
        if t + job.left <= end + EPS:  # the step is complete
            k, job.k, job.left, model = job.k, 0, 0.0, job.model
            macs = model.macs[k - 1]
            job.executed += macs
            if job.frame.fails >> (k - 1) & 1:  # it raised: its work is wasted
                job.failed = k
                self._event(job, k, end, False, macs)
                return self._end(job, end)
            job.useful = job.useful + macs if model.incremental else macs
            job.result, job.runs, job.conf = k, job.runs + 1, model.conf[job.row][k - 1]
            if job.first is None:
                job.first = end
            job.final = end
            self._event(job, k, end, True, macs)
            if k == model.last_step:
                self._end(job, end)
        elif end >= job.deadline:
            job.left -= end - t
            self._cut(job, end)
            self._end(job, end)
        else:
            job.left -= end - t
            job.recheck = job.model.watches

    def _pick(self, t: float):
        """The job to run at t; DNN jobs at a step boundary ask their policy first (and
        end when it says stop or their deadline has passed)."""
        while True:
            job = self.sched.pick()
            if job is None or job.frame is None:
                return job
            if job.deadline <= t:
                if job.k:
                    self._cut(job, t)
                self._end(job, t, dropped=not job.begun)
                continue
            if not job.begun:
                job.begun = True
                self.waiting -= 1
            if job.k == 0:
                k = self._decide(job, t, 0)
                if not k:
                    self._end(job, t)
                    continue
                self._start_step(job, k)
            elif job.model.watches and (job is not self.last or self._changed(job, t)):
                k = self._decide(job, t, job.k, self._remaining_s(job))
                if k != job.k:
                    self._cut(job, t)
                    if not k:
                        self._end(job, t)
                        continue
                    self._start_step(job, k)
            return job

    def _changed(self, job: Job, t: float) -> bool:
        """The running job's monitor reads differently from its last decision."""
        if not job.recheck:
            return False
        job.recheck = False
        return self.monitors[job.entity.dnn].read(t)[1] != job.seen

    def _remaining_s(self, job: Job) -> float:
        """Seconds at full speed the running step still needs, as the policy knows it
        (the median cost, scaled by the share of the drawn work left)."""
        drawn = job.steps[job.k - 1]
        return job.left / drawn * job.model.work_s[job.k - 1] if drawn > 0 else 0.0

    def _start_step(self, job: Job, k: int) -> None:
        job.k, job.left, job.k_start = k, job.steps[k - 1], None

    def _decide(self, job: Job, t: float, running: int, remaining_s: float = 0.0) -> int:
        estimate, now = self.monitors[job.entity.dnn].read(t)
        m, job.seen = job.model, now
        obs = Observation(t, job.deadline, job.result, running, job.conf, estimate, now,
                          m.work_s, m.incremental, self.waiting, m.quality, remaining_s, None)
        return m.policy.choose(obs)

    # --- endings -------------------------------------------------------------------------

    def _cut(self, job: Job, stop: float) -> None:
        """The running step stops unfinished at ``stop``: the work it got is wasted."""
        k, drawn = job.k, job.steps[job.k - 1]
        macs = job.model.macs[k - 1] * min(1.0, (drawn - job.left) / drawn) if drawn > 0 \
            else 0.0
        job.executed += macs
        if job.k_start is not None:
            self._event(job, k, stop, False, macs)
        job.k, job.left = 0, 0.0

    def _event(self, job: Job, k: int, end: float, completed: bool, macs: float) -> None:
        if self.emit_event is not None:
            self.emit_event(StageEvent(self.name, self.seed, job.frame.job_id, k,
                                       job.k_start, end, completed, macs))

    def _end(self, job: Job, t: float, dropped: bool = False) -> None:
        """A DNN job ends at t: it leaves the scheduler and its class, and is recorded."""
        job.done = True
        self.sched.on_finish(job)
        live = self.live[job.entity.dnn]
        if live and live[0] is job:
            live.popleft()
        else:
            live.remove(job)
        if not job.begun:
            self.waiting -= 1
        if dropped:
            return self._record_dropped(job.frame)
        if self.emit_record is None:
            return
        done = job.result
        self.emit_record(job_record(
            self.name, self.seed, job.frame, self.classes[job.frame.job_class].name, job, done,
            bool(done) and job.model.correct[job.row][done - 1],
            job.model.quality[done - 1] if done else 0.0, self.j_per_mac, job.busy))

    def _record_dropped(self, f: Frame) -> None:
        if self.emit_record is not None:
            self.emit_record(dropped_record(self.name, self.seed, f,
                                            self.classes[f.job_class].name))

    def _finish_task(self, job: Job, end: float) -> None:
        job.done = True
        self.sched.on_finish(job)
        stats, response = self.stats[job.entity.name], end - job.nominal
        stats[0] = max(stats[0], response)
        stats[1] += end > job.deadline + EPS
        stats[2] += 1

    # --- what the run tells about the tasks ---------------------------------------------

    def task_stats(self) -> dict[str, dict]:
        """Per non-DNN task: worst response (ms, from the nominal release), deadline
        misses, jobs and the RTA bound (ms; None under EDF or where none exists); times
        rounded to the nanosecond, below which they are float noise."""
        bounds = self.rta_bounds() if self.spec.scheduler == "fixed_priority" else {}
        out = {}
        for name, (worst, misses, jobs) in self.stats.items():
            bound = bounds.get(name)
            out[name] = {"worst_response_ms": round(worst * 1e3, 6) if jobs else None,
                         "rta_bound_ms": None if bound is None else round(bound * 1e3, 6),
                         "deadline_misses": misses, "jobs": jobs}
        return out

    def rta_bounds(self) -> dict[str, float | None]:
        """Response-time bounds (s) of the non-DNN tasks, the DNN classes as interference:
        a DNN job runs at most all its steps and never past its deadline."""
        switch, entries = self.switch_s, []
        for e, c, m in zip(self.dnn, self.classes, self.models):
            total = sum(m.work_s) if m.incremental and m.draws is None else math.inf
            longest = max(m.work_s) if m.draws is None else math.inf
            a = c.arrivals
            period = a.period_ms / 1e3 if hasattr(a, "period_ms") else a.min_gap_ms / 1e3
            entries.append((e, min(total, c.deadline_ms / 1e3), period,
                            getattr(a, "jitter_ms", 0.0) / 1e3, longest))
        for e, t in zip(self.others, self.spec.tasks):
            wcet = t.execution.wcet_ms
            entries.append((e, None if wcet is None else wcet / 1e3, t.period_s,
                            t.jitter_ms / 1e3, 0.0))
        tasks = []
        for e, wcet, period, jitter, _ in entries:
            lower = [x for x in entries if x[0].priority < e.priority]
            blocking = switch if lower else 0.0
            if self.stage and any(x[0].dnn >= 0 for x in lower):
                blocking = switch + max(x[4] for x in lower if x[0].dnn >= 0)
            bounded = math.isfinite(blocking)  # lognormal-like step costs: no bound
            tasks.append(RtaTask(e.name, e.priority, wcet if bounded else None, period,
                                 jitter, blocking if bounded else 0.0))
        bounds = response_bounds(tasks, switch)
        return {e.name: bounds[e.name] for e in self.others}


def _tagged(jobs: Iterator[tuple[float, float, float]], i: int):
    """(release, nominal release, task index, execution s) of task i's jobs."""
    return ((r, n, i, w) for r, n, w in jobs)


def simulate_system(scenario, spec, seed: int, frames: Iterator[Frame], outcomes: Outcomes,
                    emit_record, emit_event) -> dict[str, dict]:
    """Run one system of a task-set scenario; returns its per-task statistics."""
    env = simpy.Environment()
    platform = Platform(env, scenario, spec, seed, outcomes, emit_record, emit_event)
    platform.start(frames)
    env.run()
    return platform.task_stats()
