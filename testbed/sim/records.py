"""What the simulator emits and the report consumes: one :class:`JobRecord` per job and
system, and one :class:`StageEvent` per stage that ran (completed or aborted).

These are the only types that cross from ``sim`` to ``report``; metrics are pure
functions over them (:mod:`testbed.report.metrics`). They are ``NamedTuple``s rather than
frozen dataclasses because one is built per job (and per step): a frozen dataclass sets
each of its 19 fields through ``object.__setattr__``, which made building records a fifth
of the simulator's time.
"""

from __future__ import annotations

from typing import NamedTuple


class JobRecord(NamedTuple):
    system: str            # system name from the scenario
    seed: int              # simulation seed this record belongs to
    job_id: int            # 0.. in arrival order, same ids for every system
    job_class: str         # workload entry name, e.g. "camera", "emergency"
    sample_id: int         # dataset sample shown in this frame (same for every system)
    arrival_s: float
    deadline_s: float      # absolute time
    dropped: bool          # never started (overrun rule dropped/skipped it, or sensor drop)
    stages_done: int       # completed stages by the deadline (0 = no result)
    result_stage: int      # subnet whose output is emitted (0 = none)
    hit: bool              # a result exists by the deadline
    correct: bool          # that result is the right class (a miss counts as wrong)
    confidence: float      # confidence of the emitted result (0.0 when none)
    macs_executed: float   # all MACs the processor served for this job
    macs_wasted: float     # MACs of aborted stages and of abandoned (non-reused) subnets
    energy_j: float        # dynamic energy of the MACs executed (pj_per_mac), 0 if unknown
    start_s: float | None          # first stage start
    first_result_s: float | None   # time the first result became available
    final_result_s: float | None   # time the emitted result became available
    fault: str = ""        # fault windows that touched the frame ("stall+burst"; "" none)
    failed_stage: int = 0  # the stage that raised (its job kept the last good result; 0 none)
    busy_s: float = 0.0    # processor time the job held, first step start to processor free
    quality: float = 0.0   # measured test accuracy of the emitted step's model (0.0: no result)

    @property
    def latency_first_s(self) -> float | None:
        return None if self.first_result_s is None else self.first_result_s - self.arrival_s

    @property
    def latency_final_s(self) -> float | None:
        return None if self.final_result_s is None else self.final_result_s - self.arrival_s


class StageEvent(NamedTuple):
    system: str
    seed: int
    job_id: int
    stage: int             # 1-based stage (or subnet, for non-incremental systems)
    start_s: float
    end_s: float
    completed: bool        # False: aborted at the deadline or abandoned
    macs: float            # MACs actually served (the full cost when completed)


def job_record(system: str, seed: int, frame, job_class: str, job, result: int,
               correct: bool, quality: float, j_per_mac: float, busy_s: float) -> JobRecord:
    """The record of a job that ran (every engine: fluid, task set, validate), from its
    bookkeeping ``job`` (``runs``, ``conf``, ``executed``, ``useful``, ``started``,
    ``first``, ``final``, ``failed``) and the step whose answer it emits (``result``, 0:
    none); ``correct`` and ``quality`` belong to that step."""
    return JobRecord(
        system=system, seed=seed, job_id=frame.job_id, job_class=job_class,
        sample_id=frame.sample_id, arrival_s=frame.arrival_s, deadline_s=frame.deadline_s,
        dropped=False, stages_done=job.runs, result_stage=result, hit=result > 0,
        correct=correct, confidence=job.conf, macs_executed=job.executed,
        macs_wasted=max(0.0, job.executed - job.useful), energy_j=job.executed * j_per_mac,
        start_s=job.started, first_result_s=job.first, final_result_s=job.final,
        fault=frame.fault, failed_stage=job.failed, busy_s=busy_s, quality=quality)


def dropped_record(system: str, seed: int, frame, job_class: str) -> JobRecord:
    """The record of a frame that never ran (every engine: fluid, task set, validate):
    dropped by the overrun rule or lost by the sensor. No stage, no result, no MACs, no
    times; only the frame's identity, its deadline and the faults that touched it."""
    return JobRecord(
        system=system, seed=seed, job_id=frame.job_id, job_class=job_class,
        sample_id=frame.sample_id, arrival_s=frame.arrival_s, deadline_s=frame.deadline_s,
        dropped=True, stages_done=0, result_stage=0, hit=False, correct=False,
        confidence=0.0, macs_executed=0.0, macs_wasted=0.0, energy_j=0.0, start_s=None,
        first_result_s=None, final_result_s=None, fault=frame.fault)


JOB_COLUMNS = JobRecord._fields
