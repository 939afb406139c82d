"""Real execution of one system: each frame's job runs its ONNX stage graphs for real,
the system's policy deciding live between stages.

The counterpart of :mod:`testbed.sim.processor` for ``testbed validate``. It takes the
simulator's own processor for the system (built, never run: its cost-model step times
``work_s``, monitor, quality and MAC counts are what the policy sees in simulation) and
replays the same frames against a clock (:mod:`testbed.validate.mechanism`): on the wall
clock it sleeps until each arrival and a stage takes what it takes (with the co-runner
taking its share of the core); on the dilated clock each measured duration is stretched
by the trace. The waiting room, overrun rules, preemption check and the
:class:`~testbed.sim.observation.Observation` are the simulator's. ONNX Runtime cannot
interrupt a stage: one still running at the deadline ends when it ends, and counts as
cut (its MACs wasted, the processor busy until then). Emits :class:`JobRecord`s and one
:class:`StepSample` per stage run.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Protocol

import numpy as np

from ..sim.observation import Observation
from ..sim.records import JobRecord, dropped_record, job_record
from ..sim.waiting import WaitingRoom
from ..sim.workload import Frame

WARMUP = 20  # runs of every stage before the clock starts (ORT's first runs are slow)


class StepSample(NamedTuple):
    system: str
    job_id: int
    step: int
    start_s: float
    end_s: float
    completed: bool       # False: ended after the deadline (or raised)
    served_s: float       # work the platform served meanwhile, in seconds at full budget
    before_s: float = 0.0  # of the span, before the graph ran: the policy's decision,
    #                        admissions, the previous job's records (wall clock; 0 dilated)


class Steps(Protocol):
    """What runs a step: ``run(k, sample_id, carry)`` -> the carry for step k + 1."""

    def warm(self) -> None: ...

    def run(self, k: int, sample_id: int, carry: dict | None) -> dict | None: ...


class OrtSteps:
    """The bundle's stage graphs in ONNX Runtime, one thread, on one input per frame:
    the sample's real pixels when given (``pixels[row_of[sample_id]]``), else a fixed
    input of the right shape (a stage's cost does not depend on the pixels)."""

    def __init__(self, bundle, pixels: np.ndarray | None = None,
                 row_of: dict[int, int] | None = None):
        from ..export.runtime import chain_from_files
        from ..sim.live import normalise
        k = bundle.manifest.num_stages
        self.chain = chain_from_files([bundle.stage_path(i) for i in range(1, k + 1)], 1)
        self.incremental = bundle.manifest.incremental
        shape = tuple(bundle.manifest.input["shape"])
        self.fixed = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
        self.images = None if pixels is None else normalise(pixels, bundle.manifest.input)
        self.row_of = row_of or {}

    def image(self, sample_id: int) -> np.ndarray:
        i = self.row_of.get(sample_id)
        return self.fixed if self.images is None or i is None else self.images[i:i + 1]

    def warm(self) -> None:
        for _ in range(WARMUP):
            carry = None
            for k in range(1, len(self.chain.sessions) + 1):
                carry = self.run(k, -1, carry)

    def run(self, k: int, sample_id: int, carry: dict | None) -> dict | None:
        out = self.chain.step(k, self.image(sample_id), carry if self.incremental else None)
        return out if self.incremental else None


class _Job:
    __slots__ = ("frame", "row", "priority", "done", "runs", "conf", "executed", "useful",
                 "started", "first", "final", "failed", "late")

    def __init__(self, frame: Frame, row: int, priority: int):
        self.frame, self.row, self.priority = frame, row, priority
        self.done = self.runs = self.failed = self.late = 0
        self.conf = self.executed = self.useful = 0.0
        self.started = self.first = self.final = None


class RealProcessor:
    """One system's jobs, for real. ``view``: the simulator's
    :class:`~testbed.sim.processor.Processor` for this system (read, never run)."""

    def __init__(self, view, scenario, clock, steps: Steps,
                 on_frame: Callable[[], None] | None = None):
        self.view, self.clock, self.steps, self.on_frame = view, clock, steps, on_frame
        self.room = WaitingRoom(scenario.workload)
        self.records: list[JobRecord] = []
        self.samples: list[StepSample] = []
        self.pending: list[Frame] = []
        self.next = 0

    def run(self, frames: list[Frame]) -> list[JobRecord]:
        """Every frame, arriving on the clock; records in job-id order."""
        self.pending, self.next = frames, 0
        clock, room, dropped = self.clock, self.room, []
        t = clock.now()
        while True:
            self._admit(t)
            frame = room.pop(t, dropped)
            for lost in dropped:
                self._record_dropped(lost)
            dropped.clear()
            if frame is not None:
                t = self._job(frame, t)
            elif self.next >= len(frames):
                break
            else:
                t = clock.wait_until(frames[self.next].arrival_s)
        self.records.sort(key=lambda r: r.job_id)
        return self.records

    def _admit(self, t: float, until_included: bool = True) -> None:
        frames = self.pending
        while self.next < len(frames) and (frames[self.next].arrival_s < t or until_included
                                           and frames[self.next].arrival_s == t):
            frame = frames[self.next]
            self.next += 1
            for lost in [frame] if frame.lost else self.room.arrive(frame):
                self._record_dropped(lost)

    def _job(self, frame: Frame, t: float) -> float:
        """Run one job from ``t``; returns when the processor is free again."""
        view = self.view
        job = _Job(frame, view.row_of[frame.sample_id], view.priority[frame.job_class])
        self.room.running_class = frame.job_class
        preemptible = view.can_preempt[frame.job_class]
        deadline, carry = frame.deadline_s, None
        while t < deadline and job.done != view.last:
            self._admit(t)
            if preemptible and self.room.has_higher(job.priority, t):
                break
            k = self._decide(job, t)
            if not k:
                break
            if job.started is None:
                job.started = t
            before = self.clock.now() - t
            end, out = self.clock.run(lambda: self.steps.run(k, frame.sample_id, carry))
            ok = end <= deadline and not frame.fails >> (k - 1) & 1
            self._step(job, k, t, end, ok, before)
            t = end
            if not ok:
                break
            carry = out
        self._admit(t, until_included=False)
        self.room.running_class = -1
        self._record(job, t)
        if self.on_frame is not None:
            self.on_frame()
        return t

    def _decide(self, job: _Job, t: float) -> int:
        view = self.view
        estimate, now = view.monitor.read(t)
        obs = Observation(now_s=t, deadline_s=job.frame.deadline_s, done=job.done, running=0,
                          confidence=job.conf, budget_estimate=estimate, budget_now=now,
                          work_s=view.work_s, incremental=view.incremental,
                          waiting=self.room.size, quality=view.quality)
        return view.policy.choose(obs)

    def _step(self, job: _Job, k: int, start: float, end: float, ok: bool,
              before: float = 0.0) -> None:
        view = self.view
        macs = view.macs[k - 1]
        job.executed += macs  # ORT ran the whole stage, in time or not
        served = (view.integral.at(end) - view.integral.at(start)) * view.to_fraction \
            if math.isfinite(end) else math.inf
        self.samples.append(StepSample(view.name, job.frame.job_id, k, start, end, ok, served,
                                       before))
        if not ok:
            job.late += end > job.frame.deadline_s
            job.failed = k if end <= job.frame.deadline_s else job.failed
            return
        job.useful = job.useful + macs if view.incremental else macs
        job.done, job.runs, job.conf = k, job.runs + 1, view.conf[job.row][k - 1]
        job.first = end if job.first is None else job.first
        job.final = end

    def _record(self, job: _Job, free: float) -> None:
        view, done = self.view, job.done
        self.records.append(job_record(
            view.name, view.seed, job.frame, view.class_names[job.frame.job_class], job, done,
            bool(done) and view.outcomes.correct[job.row][done - 1],
            view.quality[done - 1] if done else 0.0, view.j_per_mac,
            0.0 if job.started is None else free - job.started))

    def _record_dropped(self, f: Frame) -> None:
        view = self.view
        self.records.append(dropped_record(view.name, view.seed, f,
                                           view.class_names[f.job_class]))
