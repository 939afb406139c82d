"""Frames (arrivals, classes, samples) and the waiting room's overrun and priority rules."""

import numpy as np
import pytest

from testbed.sim.waiting import WaitingRoom
from testbed.sim.workload import Frame, frames, parse_workload

CAMERA = {"name": "camera", "kind": "periodic", "period_ms": 50, "jitter_ms": 5, "deadline_ms": 40}
ALARM = {"name": "alarm", "kind": "sporadic", "rate_hz": 4, "min_gap_ms": 100, "deadline_ms": 10,
         "priority": 2}
POOL = np.arange(30)


def classes(*raw):
    return parse_workload(list(raw), "s.yaml")


def test_periodic_frames_with_jitter():
    out = list(frames(classes(CAMERA), 0, 10.0, POOL))
    assert len(out) == 200 and [f.job_id for f in out] == list(range(200))
    late = np.array([f.arrival_s for f in out]) - 0.05 * np.arange(200)
    assert late.min() >= 0 and late.max() < 0.005 and late.std() > 0
    assert all(f.deadline_s == pytest.approx(f.arrival_s + 0.04) for f in out)


def test_sporadic_frames_keep_their_minimum_gap():
    out = list(frames(classes(ALARM), 0, 200.0, POOL))
    gaps = np.diff([f.arrival_s for f in out])
    assert gaps.min() >= 0.1 and 200 / (0.1 + 0.25) * 0.8 < len(out) < 200 / 0.35 * 1.2


def test_classes_merge_in_arrival_order_with_their_own_tag():
    out = list(frames(classes(CAMERA, ALARM), 1, 20.0, POOL))
    assert [f.arrival_s for f in out] == sorted(f.arrival_s for f in out)
    by_class = {i: [f for f in out if f.job_class == i] for i in (0, 1)}
    assert len(by_class[0]) == 400 and len(by_class[1]) > 20
    assert all(f.deadline_s - f.arrival_s == pytest.approx(0.01) for f in by_class[1])


def test_samples_are_seeded_shuffled_passes_over_the_pool():
    ids = [f.sample_id for f in frames(classes(CAMERA), 5, 3.0, POOL)]  # 60 frames: 2 passes
    assert sorted(ids[:30]) == list(range(30)) and sorted(ids[30:]) == list(range(30))
    assert ids == [f.sample_id for f in frames(classes(CAMERA), 5, 3.0, POOL)]
    assert ids != [f.sample_id for f in frames(classes(CAMERA), 6, 3.0, POOL)]


def test_a_new_class_does_not_change_the_arrivals_of_the_others():
    alone = [f.arrival_s for f in frames(classes(CAMERA), 2, 5.0, POOL)]
    mixed = [f.arrival_s for f in frames(classes(CAMERA, ALARM), 2, 5.0, POOL) if f.job_class == 0]
    assert alone == mixed


def frame(job_id, job_class=0, arrival=0.0, deadline=1.0):
    return Frame(job_id, job_class, arrival, deadline, job_id)


def room(*overruns, priorities=None):
    raw = [dict(CAMERA, name=f"c{i}", overrun=o, priority=(priorities or [0] * 9)[i])
           for i, o in enumerate(overruns)]
    return WaitingRoom(classes(*raw))


def test_queue_keeps_everything_in_order():
    r = room("queue")
    assert r.arrive(frame(0)) == [] and r.arrive(frame(1)) == []
    assert r.pop(0.0, []).job_id == 0 and r.pop(0.0, []).job_id == 1 and r.pop(0.0, []) is None


def test_skip_new_drops_the_newcomer_while_one_is_pending():
    r = room("skip_new")
    r.running_class = 0
    assert r.arrive(frame(0)) == [frame(0)]
    r.running_class = -1
    assert r.arrive(frame(1)) == [] and r.arrive(frame(2)) == [frame(2)]


def test_drop_old_keeps_only_the_newest():
    r = room("drop_old")
    r.arrive(frame(0))
    assert r.arrive(frame(1)) == [frame(0)] and r.size == 1
    assert r.pop(0.0, []).job_id == 1


def test_priority_then_arrival_and_expiry():
    r = room("queue", "queue", priorities=[0, 1])
    r.arrive(frame(0, 0, 0.0, 5.0))
    r.arrive(frame(1, 1, 0.1, 0.5))
    r.arrive(frame(2, 1, 0.2, 0.6))
    assert r.has_higher(0, 0.3) and not r.has_higher(1, 0.3) and not r.has_higher(0, 0.7)
    dropped = []
    assert r.pop(0.55, dropped).job_id == 2 and dropped == [frame(1, 1, 0.1, 0.5)]
    assert r.pop(0.55, dropped).job_id == 0 and r.size == 0


def test_a_misspelt_key_of_a_job_class_lists_every_key_a_class_takes():
    from testbed.errors import ConfigError
    from testbed.sim.workload import parse_workload
    raw = [{"name": "camera", "kind": "periodic", "period_ms": 33.3, "deadline_ms": 30,
            "priorty": 1}]
    with pytest.raises(ConfigError, match=r"workload\.0\.priorty: expected a known key "
                                          r"\(name, deadline_ms, priority, overrun, kind, "
                                          r"period_ms"):
        parse_workload(raw, "s.yaml")
