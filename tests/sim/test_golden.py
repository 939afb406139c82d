"""A golden run: a tiny scenario whose every record and event was worked out by hand.

Toy bundle: 2 incremental stages of 1,000,000 MACs, one sample (wrong after stage 1,
right after stage 2). Platform 1 GMAC/s, no overhead, 1 pJ/MAC: a stage takes 1 ms at
budget 1.0. Budget 1.0, then 0.5 from 10.5 ms, then 0 from 25 ms. Frames every 10 ms
with a 3 ms deadline, greedy policy.
"""

import pytest
import yaml

from testbed.scenario import load_scenario
from testbed.sim.engine import simulate
from testbed.sim.records import JobRecord
from tests.toybundle import make_toy_bundle

from .builders import scenario_dict

N = None
EVENTS = [  # job, stage, start, end, completed, MACs served
    (0, 1, 0.000, 0.001, True, 1e6),
    (0, 2, 0.001, 0.002, True, 1e6),
    (1, 1, 0.010, 0.0115, True, 1e6),     # 0.5 ms at 1.0, then 0.5 ms of work at 0.5
    (1, 2, 0.0115, 0.013, False, 0.75e6),  # cut at the deadline: 1.5 ms at 0.5
    (2, 1, 0.020, 0.022, True, 1e6),
    (2, 2, 0.022, 0.023, False, 0.5e6),
    # job 3: budget 0 from its arrival to its deadline: the policy, which runs on this
    # processor, never gets to decide, so no step starts (no event)
]
RECORDS = [  # job, arrival, deadline, stages, result, hit, correct, executed, wasted,
    #          start, first result, final result
    (0, 0.00, 0.003, 2, 2, True, True, 2e6, 0.0, 0.00, 0.001, 0.002),
    (1, 0.01, 0.013, 1, 1, True, False, 1.75e6, 0.75e6, 0.01, 0.0115, 0.0115),
    (2, 0.02, 0.023, 1, 1, True, False, 1.5e6, 0.5e6, 0.02, 0.022, 0.022),
    (3, 0.03, 0.033, 0, 0, False, False, 0.0, 0.0, N, N, N),
]


def test_golden_record_log(tmp_path):
    bundle = make_toy_bundle(tmp_path / "tiny", stage_macs=[1_000_000, 1_000_000],
                             correct=[[False, True]], num_samples=1)
    raw = scenario_dict([{"name": "tiny", "model": str(bundle), "policy": "greedy"}],
                        seed=0, duration_s=0.04,
                        platform={"peak_gmacs": 1.0, "pj_per_mac": 1.0},
                        budget={"kind": "step", "times_s": [0, 0.0105, 0.025],
                                "budgets": [1.0, 0.5, 0.0]},
                        workload=[{"name": "cam", "kind": "periodic", "period_ms": 10,
                                   "deadline_ms": 3}])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    scenario = load_scenario(tmp_path / "s.yaml")
    conf = scenario.systems[0].bundle.eval.conf[0].tolist()
    result = simulate(scenario)
    assert [(e.system, e.seed, e.job_id, e.stage, e.completed) for e in result.events] == \
        [("tiny", 0, j, k, done) for j, k, _, _, done, _ in EVENTS]
    assert [(e.start_s, e.end_s, e.macs) for e in result.events] == \
        [pytest.approx((start, end, macs)) for _, _, start, end, _, macs in EVENTS]
    expected = [JobRecord("tiny", 0, j, "cam", 0, a, d, False, s, k, h, c,
                          conf[k - 1] if k else 0.0, x, w, x * 1e-12, st, f, fin)
                for j, a, d, s, k, h, c, x, w, st, f, fin in RECORDS]
    assert [_numbers(r) for r in result.records] == [pytest.approx(_numbers(r)) for r in expected]
    assert [_flags(r) for r in result.records] == [_flags(r) for r in expected]


def _numbers(r: JobRecord) -> tuple:
    return tuple(-1.0 if v is None else float(v) for v in
                 (r.job_id, r.sample_id, r.arrival_s, r.deadline_s, r.stages_done, r.result_stage,
                  r.confidence, r.macs_executed, r.macs_wasted, r.energy_j, r.start_s,
                  r.first_result_s, r.final_result_s))


def _flags(r: JobRecord) -> tuple:
    return r.system, r.seed, r.job_class, r.dropped, r.hit, r.correct
