"""The simulator end to end on toy bundles: physics by hand, fairness, oracle bound."""

from collections import defaultdict

import numpy as np
import pytest

from testbed.scenario import load_scenario
from testbed.sim.engine import make_trace, simulate

from .builders import scenario_dict

# 200 frames at 10 fps over 20 s: each of the toy bundles' 200 samples exactly once
EVERY_SAMPLE_ONCE = {"duration_s": 20.0}


def by_system(result):
    rows = defaultdict(list)
    for r in result.records:
        rows[r.system].append(r)
    return rows


def test_full_budget_and_generous_deadline_hit_everything(make_scenario, toy_bundles):
    sc = make_scenario([("sn", "steppingnet", "greedy"), ("aw", "anywidth", "greedy"),
                        ("slim", "slimmable", {"name": "fixed", "k": 4})], **EVERY_SAMPLE_ONCE)
    rows = by_system(simulate(sc))
    for name, system in zip(("sn", "aw", "slim"), sc.systems):
        recs = rows[name]
        assert len(recs) == 200 and all(r.hit for r in recs)
        accuracy = np.mean([r.correct for r in recs])
        assert accuracy == pytest.approx(system.bundle.eval.accuracy()[-1])
        assert sorted(r.sample_id for r in recs) == list(range(200))


def test_zero_budget_hits_nothing(make_scenario):
    sc = make_scenario([("sn", "steppingnet", "greedy"), ("slim", "slimmable", "pick_at_start")],
                       budget={"kind": "constant", "budget": 0.0})
    result = simulate(sc)
    assert result.records and not any(r.hit or r.correct for r in result.records)
    assert all(r.macs_executed == 0 for r in result.records)


def test_a_stage_ends_when_the_integral_of_the_budget_reaches_its_work(make_scenario):
    # steppingnet toy stage 1: 1,057,094 MACs + 0.1 ms overhead at 0.5 GMAC/s = 2.2142 ms
    # at full budget. Budget 0.25 for the first 1 ms, then 1.0.
    sc = make_scenario([("sn", "steppingnet", {"name": "fixed", "k": 1})],
                       budget={"kind": "step", "times_s": [0, 0.001], "budgets": [0.25, 1.0]})
    first = next(e for e in simulate(sc).events if e.job_id == 0)
    work_s = 1_057_094 / 0.5e9 + 0.0001
    assert first.end_s == pytest.approx(0.001 + (work_s - 0.00025))


def test_same_seed_same_records_other_seed_other_frames(make_scenario):
    systems = [("sn", "steppingnet", "deadline_aware"), ("slim", "slimmable", "pick_at_start")]
    budget = {"kind": "random_walk", "start": 0.6, "sigma": 0.2, "step_ms": 20, "low": 0.0}
    a = simulate(make_scenario(systems, budget=budget))
    b = simulate(make_scenario(systems, budget=budget))
    c = simulate(make_scenario(systems, budget=budget), seed=4)
    assert a.records == b.records and a.events == b.events and a.trace == b.trace
    assert [r.sample_id for r in a.records] != [r.sample_id for r in c.records]


def test_every_system_sees_the_same_frames_whatever_the_system_list(make_scenario):
    budget = {"kind": "markov", "modes": {"hi": {"budget": 1.0, "dwell_s": [0.2, 1]},
                                          "lo": {"budget": 0.2, "dwell_s": [0.2, 1]}}}
    alone = simulate(make_scenario([("sn", "steppingnet", "deadline_aware")], budget=budget))
    both = simulate(make_scenario([("slim", "slimmable", "pick_at_start"),
                                   ("sn", "steppingnet", "deadline_aware")], budget=budget))
    rows = by_system(both)
    frames = [[(r.job_id, r.sample_id, r.arrival_s, r.deadline_s) for r in rows[s]] for s in rows]
    assert frames[0] == frames[1]
    assert rows["sn"] == alone.records and alone.trace == both.trace


def test_non_incremental_systems_never_reuse_work(make_scenario, toy_bundles):
    budget = {"kind": "random_walk", "start": 0.5, "sigma": 0.3, "step_ms": 5, "low": 0.05}
    sc = make_scenario([("slim", "slimmable", {"name": "pick_at_start", "restart": True})],
                       budget=budget, workload=[{"name": "c", "kind": "periodic",
                                                 "period_ms": 50, "deadline_ms": 40}])
    subnet_macs = [s.macs for s in sc.systems[0].bundle.manifest.stages]
    result = simulate(sc)
    served = defaultdict(float)
    for e in result.events:
        served[e.job_id] += e.macs
        if e.completed:
            assert e.macs == subnet_macs[e.stage - 1]  # always the whole subnet, from scratch
    assert any(not e.completed and e.end_s < r.deadline_s
               for e, r in zip(result.events, result.records))  # some restarts happened
    for r in result.records:
        assert r.macs_executed == pytest.approx(served[r.job_id])
        useful = subnet_macs[r.result_stage - 1] if r.result_stage else 0
        assert r.macs_wasted == pytest.approx(r.macs_executed - useful)


ORACLE_RIVALS = {
    "incremental": ["greedy", "deadline_aware", {"name": "deadline_aware", "margin": 0.5},
                    {"name": "confidence", "threshold": 0.7}] +
                   [{"name": "fixed", "k": k} for k in (1, 2, 3, 4)],
    "non_incremental": ["pick_at_start", {"name": "pick_at_start", "restart": True},
                        {"name": "pick_at_start", "restart": True, "upgrade": False},
                        "safe_first", {"name": "safe_first", "restart": True, "margin": 0.3},
                        {"name": "safe_first", "confidence": 0.8}] +
                       [{"name": "fixed", "k": k} for k in (1, 2, 3, 4)],
}


@pytest.mark.parametrize("method", ["steppingnet", "slimmable"])
@pytest.mark.parametrize("budget", [
    {"kind": "random_walk", "start": 0.5, "sigma": 0.25, "step_ms": 7, "low": 0.0, "high": 1.2},
    {"kind": "contention", "bursts": {"rate_hz": 6, "share": [0.5, 1.0], "duration_ms": [5, 80]}},
], ids=["random_walk", "contention"])
def test_oracle_is_never_beaten_on_accuracy_at_deadline(make_scenario, method, budget):
    kind = "incremental" if method == "steppingnet" else "non_incremental"
    rivals = [(f"p{i}", method, p) for i, p in enumerate(ORACLE_RIVALS[kind])]
    sc = make_scenario([("oracle", method, "oracle")] + rivals, budget=budget,
                       workload=[{"name": "c", "kind": "periodic", "period_ms": 33.3,
                                  "jitter_ms": 3.0, "deadline_ms": 30}], duration_s=20.0)
    rows = by_system(simulate(sc))
    best = [r.correct for r in rows["oracle"]]
    for name, _, _ in rivals:
        assert all(o or not r.correct for o, r in zip(best, rows[name])), name
        assert sum(best) >= sum(r.correct for r in rows[name])
    assert sum(best) > min(sum(r.correct for r in rows[n]) for n, _, _ in rivals)


def test_higher_priority_frames_preempt_at_stage_boundaries(make_scenario):
    workload = [{"name": "camera", "kind": "periodic", "period_ms": 100, "deadline_ms": 90},
                {"name": "alarm", "kind": "periodic", "period_ms": 100, "offset_ms": 3,
                 "deadline_ms": 20, "priority": 1}]
    sc = make_scenario([("sn", "steppingnet", "greedy")], workload=workload,
                       budget={"kind": "constant", "budget": 0.5})
    recs = simulate(sc).records
    camera = [r for r in recs if r.job_class == "camera"]
    alarm = [r for r in recs if r.job_class == "alarm"]
    assert all(r.hit and r.result_stage < 4 for r in camera)  # cut short, kept its result
    assert all(r.hit and r.start_s >= r.arrival_s for r in alarm)


def test_busy_time_runs_from_the_first_step_to_when_the_processor_is_free(make_scenario):
    """A job's ``busy_s`` spans its stage events (completed, cut or abandoned), so the
    report's idle time is the rest of the run; the jobs never overlap on the processor."""
    systems = [("sn", "steppingnet", "deadline_aware"),
               ("slim", "slimmable", {"name": "pick_at_start", "restart": True})]
    budget = {"kind": "random_walk", "start": 0.6, "sigma": 0.3, "step_ms": 5, "low": 0.0}
    result = simulate(make_scenario(systems, budget=budget))
    spans = defaultdict(list)
    for e in result.events:
        spans[e.system, e.job_id].append(e)
    assert any(not e.completed for e in result.events)  # cut and abandoned steps covered
    for r in result.records:
        events = spans.get((r.system, r.job_id))
        if not events:
            assert r.busy_s == 0.0 and r.start_s is None
            continue
        assert r.busy_s == pytest.approx(max(e.end_s for e in events) - r.start_s, abs=1e-12)
        assert r.start_s == min(e.start_s for e in events)
    for name in result.systems:
        held = sorted((r.start_s, r.start_s + r.busy_s) for r in result.records
                      if r.system == name and r.busy_s)
        assert all(a[1] <= b[0] + 1e-12 for a, b in zip(held, held[1:]))


@pytest.mark.parametrize("overrun, dropped", [("queue", 0), ("skip_new", 1), ("drop_old", 1)])
def test_overrun_rules(make_scenario, overrun, dropped):
    # frames every 10 ms, deadline 100 ms, each job takes ~18 ms at 1.0: a backlog builds
    workload = [{"name": "c", "kind": "periodic", "period_ms": 10, "deadline_ms": 100,
                 "overrun": overrun}]
    sc = make_scenario([("sn", "steppingnet", "greedy")], workload=workload, duration_s=1.0)
    recs = simulate(sc).records
    drops = [r for r in recs if r.dropped]
    assert (len(drops) > 0) == bool(dropped)
    assert len(recs) == 100 and len({r.job_id for r in recs}) == 100
    if overrun == "drop_old":  # the newest frame always survives
        assert not recs[-1].dropped


def test_records_stream_without_being_kept(make_scenario):
    sc = make_scenario([("sn", "steppingnet", "deadline_aware"), ("aw", "anywidth", "greedy")])
    kept = simulate(sc)
    streamed, events = [], []
    result = simulate(sc, keep=False, on_record=streamed.append, on_event=events.append)
    assert not result.records and not result.events
    assert sorted(streamed, key=lambda r: (r.system != "sn", r.job_id)) == kept.records
    assert events == kept.events


def test_gmacs_trace_is_absolute(write_scenario, toy_bundles, tmp_path):
    # 0.25 GMAC/s absolute on a 0.5 GMAC/s platform = budget 0.5
    (tmp_path / "g.csv").write_text("time_s,gmacs\n0,0.25\n")
    (tmp_path / "b.csv").write_text("time_s,budget\n0,0.5\n")
    entry = [{"name": "sn", "model": str(toy_bundles["steppingnet"]), "policy": "greedy"}]
    path = write_scenario(scenario_dict(entry))
    a = simulate(load_scenario(path, trace_path=str(tmp_path / "g.csv")))
    b = simulate(load_scenario(path, trace_path=str(tmp_path / "b.csv")))
    assert [e.end_s for e in a.events] == pytest.approx([e.end_s for e in b.events])
    assert [e.macs for e in a.events] == pytest.approx([e.macs for e in b.events])


def test_a_written_trace_replays_the_run(make_scenario, write_scenario, toy_bundles, tmp_path):
    budget = {"kind": "contention", "bursts": {"rate_hz": 3, "share": [0.3, 0.9],
                                               "duration_ms": [10, 300]}}
    sc = make_scenario([("sn", "steppingnet", "deadline_aware")], budget=budget)
    make_trace(sc).write_csv(tmp_path / "t.csv")
    replay = load_scenario(sc.path, trace_path=str(tmp_path / "t.csv"))
    assert simulate(replay).records == simulate(sc).records


def test_skip_new_sees_the_running_job(make_scenario):
    # each job runs ~18 ms at full budget (greedy); a frame every 10 ms arrives while the
    # previous one still runs, so skip_new keeps every other frame
    workload = [{"name": "c", "kind": "periodic", "period_ms": 10, "deadline_ms": 100,
                 "overrun": "skip_new"}]
    sc = make_scenario([("sn", "steppingnet", "greedy")], workload=workload, duration_s=1.0)
    recs = simulate(sc).records
    assert [r.dropped for r in recs[:6]] == [False, True, False, True, False, True]


def test_the_simulator_imports_neither_torch_nor_onnxruntime():
    import subprocess
    import sys
    code = ("import sys, testbed.scenario, testbed.sim.engine, testbed.sim.live; "
            "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_policies_see_every_field_of_the_observation_where_it_belongs(make_scenario):
    """The processor builds observations by position (hot path): each field must land in
    its own slot."""
    import dataclasses

    from testbed.sim.policies import Greedy

    seen = []

    class Spy(Greedy):
        def decide(self, obs):
            seen.append(obs)
            return Greedy.decide(self, obs)

    sc = make_scenario([("sn", "steppingnet", "greedy")],
                       budget={"kind": "constant", "budget": 0.5})
    sc = dataclasses.replace(sc, systems=(dataclasses.replace(sc.systems[0], policy=Spy()),))
    records = simulate(sc).records
    manifest = sc.systems[0].bundle.manifest
    deadlines = {r.deadline_s for r in records}
    assert seen
    for obs in seen:
        assert obs.deadline_s in deadlines and obs.now_s < obs.deadline_s
        assert obs.quality == tuple(s.accuracy for s in manifest.stages)
        assert len(obs.work_s) == manifest.num_stages and all(w > 0 for w in obs.work_s)
        assert obs.incremental is True and obs.running == 0 and obs.remaining_s == 0.0
        assert obs.budget_now == 0.5 and 0.5 <= obs.budget_estimate <= 1.0
        assert obs.waiting == 0 and obs.foresight is None and 0 <= obs.done < 4
        assert (obs.confidence > 0) == (obs.done > 0)
