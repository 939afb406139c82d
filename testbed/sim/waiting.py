"""The waiting room of one system's processor: frames that arrived and have not started.

Applies each job class's overrun rule on arrival (``queue``, ``skip_new``: drop the new
frame while one of its class is waiting or running, ``drop_old``: drop the waiting frames
of its class), hands out the next frame by priority (higher first) then arrival, and
drops frames whose deadline passed before they could start. Dropped frames are returned
to the caller (the engine records them). Pure bookkeeping: no simulated time of its own.
"""

from __future__ import annotations

from collections import deque

from .workload import Frame, JobClass


class WaitingRoom:
    def __init__(self, classes: tuple[JobClass, ...]):
        self.rules = [c.overrun for c in classes]
        self.priority = [c.priority for c in classes]
        self.queues: list[deque[Frame]] = [deque() for _ in classes]
        self.order = sorted(range(len(classes)), key=lambda i: -classes[i].priority)
        self.running_class = -1  # class of the frame on the processor (-1: idle)
        self.size = 0  # frames waiting (some may have expired unnoticed)

    def arrive(self, frame: Frame) -> list[Frame]:
        """Admit ``frame``; return the frames this drops (possibly ``frame`` itself)."""
        i = frame.job_class
        queue = self.queues[i]
        dropped = self._expire(queue, frame.arrival_s) if queue else []
        rule = self.rules[i]
        if rule == "skip_new" and (queue or self.running_class == i):
            return dropped + [frame]
        if rule == "drop_old" and queue:
            dropped += queue
            self.size -= len(queue)
            queue.clear()
        queue.append(frame)
        self.size += 1
        return dropped

    def pop(self, now_s: float, dropped: list[Frame]) -> Frame | None:
        """The next frame to start at ``now_s``; expired frames are appended to ``dropped``."""
        for i in self.order:
            queue = self.queues[i]
            if not queue:
                continue
            if queue[0].deadline_s <= now_s:
                dropped += self._expire(queue, now_s)
            if queue:
                self.size -= 1
                return queue.popleft()
        return None

    def has_higher(self, priority: int, now_s: float) -> bool:
        """A frame of higher priority than ``priority`` is waiting and can still start."""
        return any(self.priority[i] > priority and queue and queue[-1].deadline_s > now_s
                   for i, queue in enumerate(self.queues))

    def _expire(self, queue: deque[Frame], now_s: float) -> list[Frame]:
        expired = []
        while queue and queue[0].deadline_s <= now_s:  # one class: deadlines in arrival order
            expired.append(queue.popleft())
        self.size -= len(expired)
        return expired
