"""``dropped_record``: the one record of a frame that never ran, shared by every engine."""

from testbed.sim.records import JOB_COLUMNS, JobRecord, dropped_record
from testbed.sim.workload import Frame


def test_dropped_record_fields():
    frame = Frame(job_id=7, job_class=1, arrival_s=0.25, deadline_s=0.3, sample_id=42,
                  fault="stall+burst", lost=True, fails=0b101)
    rec = dropped_record("sys-a", 3, frame, "emergency")
    assert isinstance(rec, JobRecord)
    assert rec._asdict() == {
        "system": "sys-a", "seed": 3, "job_id": 7, "job_class": "emergency",
        "sample_id": 42, "arrival_s": 0.25, "deadline_s": 0.3, "dropped": True,
        "stages_done": 0, "result_stage": 0, "hit": False, "correct": False,
        "confidence": 0.0, "macs_executed": 0.0, "macs_wasted": 0.0, "energy_j": 0.0,
        "start_s": None, "first_result_s": None, "final_result_s": None,
        "fault": "stall+burst", "failed_stage": 0, "busy_s": 0.0, "quality": 0.0}
    assert set(rec._asdict()) == set(JOB_COLUMNS)  # a new column must be decided here too
    assert rec.latency_first_s is None and rec.latency_final_s is None


def test_dropped_record_without_fault():
    rec = dropped_record("s", 0, Frame(0, 0, 0.0, 0.1, 5), "camera")
    assert rec.fault == "" and rec.dropped and not rec.hit
