"""Schedulers of a task-set platform: which ready job runs (SimSo's shape, kept small).

Used by :mod:`testbed.sim.rt.engine`, one instance per simulated platform. A scheduler
keeps the ready jobs and gets three hooks: ``on_release(job)`` when a job becomes ready,
``on_finish(job)`` when it ends (the engine sets ``job.done``; finished jobs leave the
queue lazily) and ``pick()`` -> the job that should hold the processor now (``None``:
idle). The engine asks ``pick()`` after every release and completion, so preemption
falls out of the order alone. ``interferes(a, b)`` says whether work of entity ``a``
takes capacity that entity ``b`` could have used (what a DNN task's monitor counts).
A new scheduler is one class with a ``key`` and ``@SCHEDULERS.register("name")``.
"""

from __future__ import annotations

import heapq

from ...registry import Registry

SCHEDULERS: Registry[type] = Registry("scheduler")


class Scheduler:
    """Ready jobs in a heap ordered by ``key(job)``, then release order."""
    __slots__ = ("ready",)

    def __init__(self):
        self.ready: list = []

    @staticmethod
    def key(job) -> tuple:
        raise NotImplementedError

    @staticmethod
    def interferes(a, b) -> bool:
        raise NotImplementedError

    def on_release(self, job) -> None:
        heapq.heappush(self.ready, (self.key(job), job.seq, job))

    def on_finish(self, job) -> None:
        """Nothing to do: a finished job leaves the heap when it reaches the top."""

    def pick(self):
        ready = self.ready
        while ready and ready[0][2].done:
            heapq.heappop(ready)
        return ready[0][2] if ready else None


@SCHEDULERS.register("fixed_priority")
class FixedPriority(Scheduler):
    """Preemptive fixed priority: the larger ``priority`` runs; equal priorities in
    release order (FIFO)."""
    __slots__ = ()

    @staticmethod
    def key(job) -> tuple:
        return (-job.priority, job.release)

    @staticmethod
    def interferes(a, b) -> bool:
        return a.priority > b.priority


@SCHEDULERS.register("edf")
class EarliestDeadlineFirst(Scheduler):
    """Preemptive earliest deadline first (absolute deadlines); ties by priority, then
    release order."""
    __slots__ = ()

    @staticmethod
    def key(job) -> tuple:
        return (job.deadline, -job.priority, job.release)

    @staticmethod
    def interferes(a, b) -> bool:
        return a is not b
