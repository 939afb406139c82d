"""Hand-made records for the report tests (no simulator needed)."""

from __future__ import annotations

from testbed.sim.records import JobRecord, StageEvent


def rec(system="a", seed=1, job_id=0, job_class="camera", *, hit=True, correct=True,
        dropped=False, stages=1, executed=100.0, wasted=0.0, energy=0.0, arrival=0.0,
        first=None, final=None, deadline=0.030, quality=0.0) -> JobRecord:
    if hit and first is None:
        first = arrival + 0.010
    if hit and final is None:
        final = first
    return JobRecord(
        system=system, seed=seed, job_id=job_id, job_class=job_class, sample_id=job_id,
        arrival_s=arrival, deadline_s=arrival + deadline, dropped=dropped,
        stages_done=stages if hit else 0, result_stage=stages if hit else 0, hit=hit,
        correct=correct and hit, confidence=0.9 if hit else 0.0, macs_executed=executed,
        macs_wasted=wasted, energy_j=energy,
        start_s=None if dropped else arrival, first_result_s=first if hit else None,
        final_result_s=final if hit else None, quality=quality if hit else 0.0)


def hand_records(system="a", seed=1) -> list[JobRecord]:
    """Four jobs whose metrics are worked out by hand in the tests."""
    return [
        rec(system, seed, 0, stages=2, executed=100, energy=1e-6, arrival=0.0,
            first=0.010, final=0.020),
        rec(system, seed, 1, correct=False, stages=1, executed=80, wasted=30, energy=1e-6,
            arrival=0.1, first=0.115, final=0.115),
        rec(system, seed, 2, "emergency", hit=False, executed=20, wasted=20, arrival=0.2),
        rec(system, seed, 3, hit=False, dropped=True, executed=0, arrival=0.3),
    ]


def events(system="a", seed=1) -> list[StageEvent]:
    return [StageEvent(system, seed, 0, 1, 0.0, 0.005, True, 50),
            StageEvent(system, seed, 0, 2, 0.005, 0.020, True, 50),
            StageEvent(system, seed, 2, 1, 0.2, 0.23, False, 20)]


def manifest(name="toy", method="steppingnet", macs=(100, 50, 50), acc=(0.5, 0.7, 0.8)):
    from testbed.bundle import parse_manifest
    incremental = method in ("steppingnet", "anywidth")
    stages, total = [], 0
    for i, (m, a) in enumerate(zip(macs, acc)):
        total = total + m if incremental else m
        stages.append({"index": i + 1, "file": f"stage_{i + 1}.onnx", "sha256": "0" * 64,
                       "macs": m, "macs_dense": m, "cumulative_macs": total, "params": m,
                       "accuracy": a})
    return parse_manifest({
        "format_version": 1, "name": name, "method": method, "architecture": "toy",
        "dataset": "toy", "classes": ["x", "y"],
        "input": {"shape": [1, 2, 2], "mean": [0.0], "std": [1.0]},
        "incremental": incremental, "original_macs": 200, "original_accuracy": 0.82,
        "stages": stages, "training": {}})
