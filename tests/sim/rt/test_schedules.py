"""Task-set platforms (issue 20): the simulated schedule against hand-worked schedules and
against response-time analysis."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.scenario import scenario_from_raw
from testbed.sim.engine import simulate
from testbed.sim.rt.analysis import RtaTask, response_bounds

from ..builders import scenario_dict

NO_FRAMES = {"name": "camera", "kind": "periodic", "period_ms": 1e6, "offset_ms": 1e6,
             "deadline_ms": 30, "priority": -10}  # arrives after the run: the tasks alone


def task_scenario(bundle, tmp_path, tasks, *, scheduler="fixed_priority", switch_us=0.0,
                  duration_s=0.12, workload=NO_FRAMES, preemption="instant",
                  policy="deadline_aware"):
    raw = scenario_dict([{"name": "dnn", "model": str(bundle), "policy": {"name": policy}}],
                        duration_s=duration_s, workload=[workload],
                        budget={"kind": "tasks", "scheduler": scheduler,
                                "context_switch_us": switch_us, "preemption": preemption,
                                "tasks": tasks})
    return scenario_from_raw(raw, tmp_path / "tasks.yaml")


def periodic(name, c_ms, t_ms, priority, **extra):
    return {"name": name, "kind": "periodic", "period_ms": t_ms, "execution_ms": c_ms,
            "priority": priority, **extra}


# Rate-monotonic textbook set: C = (1, 2, 3) ms, T = (4, 6, 12) ms, U = 0.83; released
# together at 0, the critical instant. By hand: tau1 runs 0-1, tau2 1-3, tau3 3-4, tau1
# 4-5, tau3 5-6, tau2 6-8, tau1 8-9, tau3 9-10: responses 1, 3 and 10 ms.
RM_SET = [periodic("tau1", 1, 4, 3), periodic("tau2", 2, 6, 2), periodic("tau3", 3, 12, 1)]


def test_rate_monotonic_textbook_set_has_its_known_response_times(toy_bundles, tmp_path):
    sc = task_scenario(toy_bundles["steppingnet"], tmp_path, RM_SET)
    tasks = simulate(sc).tasks["dnn"]
    for name, expected in (("tau1", 1.0), ("tau2", 3.0), ("tau3", 10.0)):
        assert tasks[name]["worst_response_ms"] == pytest.approx(expected)
        assert tasks[name]["rta_bound_ms"] == pytest.approx(expected)
        assert tasks[name]["deadline_misses"] == 0
    assert tasks["tau1"]["jobs"] == 30 and tasks["tau3"]["jobs"] == 10


# U = 2/4 + 3/6 = 1.0. EDF: no miss. Fixed priority (tau1 higher): tau2 gets 2 ms of its
# 3 ms by its deadline at 6 (tau1 runs 0-2 and 4-6), so every tau2 job released at a
# multiple of 12 ms misses, and RTA says 7 ms > 6 ms.
FULL_SET = [periodic("tau1", 2, 4, 2), periodic("tau2", 3, 6, 1)]


def test_edf_schedules_utilisation_one_without_a_miss(toy_bundles, tmp_path):
    sc = task_scenario(toy_bundles["steppingnet"], tmp_path, FULL_SET, scheduler="edf")
    tasks = simulate(sc).tasks["dnn"]
    assert all(t["deadline_misses"] == 0 for t in tasks.values())
    assert tasks["tau2"]["worst_response_ms"] <= 6.0 + 1e-9
    assert all(t["rta_bound_ms"] is None for t in tasks.values())  # no FP bound under EDF


def test_fixed_priority_misses_on_the_same_set(toy_bundles, tmp_path):
    sc = task_scenario(toy_bundles["steppingnet"], tmp_path, FULL_SET)
    tasks = simulate(sc).tasks["dnn"]
    assert tasks["tau1"]["deadline_misses"] == 0
    assert tasks["tau2"]["deadline_misses"] == 10  # one per 12 ms hyperperiod, 120 ms run
    assert tasks["tau2"]["worst_response_ms"] == pytest.approx(7.0)
    assert tasks["tau2"]["rta_bound_ms"] is None  # level-2 utilisation 1.0: no bound


def test_context_switches_show_in_response_times(toy_bundles, tmp_path):
    plain = simulate(task_scenario(toy_bundles["steppingnet"], tmp_path, RM_SET)).tasks["dnn"]
    costly = simulate(task_scenario(toy_bundles["steppingnet"], tmp_path, RM_SET,
                                    switch_us=100)).tasks["dnn"]
    assert costly["tau1"]["worst_response_ms"] == pytest.approx(1.1)  # one switch to start
    for name in ("tau2", "tau3"):
        assert costly[name]["worst_response_ms"] > plain[name]["worst_response_ms"] + 0.1
        assert costly[name]["worst_response_ms"] <= costly[name]["rta_bound_ms"] + 1e-9
        assert costly[name]["rta_bound_ms"] > plain[name]["rta_bound_ms"]


def test_full_higher_priority_load_leaves_the_dnn_no_hits(toy_bundles, tmp_path):
    camera = {"name": "camera", "kind": "periodic", "period_ms": 100, "deadline_ms": 60,
              "priority": 0}
    hog = [periodic("hog", 10, 10, 5)]  # C = T: 100% of the processor
    sc = task_scenario(toy_bundles["steppingnet"], tmp_path, hog, workload=camera,
                       duration_s=2.0)
    records = simulate(sc).records
    assert records and not any(r.hit for r in records)
    free = task_scenario(toy_bundles["steppingnet"], tmp_path, [periodic("hog", 5, 10, 5)],
                         workload=camera, duration_s=2.0)
    assert any(r.hit for r in simulate(free).records)  # half the processor: some hits


def test_stage_preemption_makes_high_priority_tasks_wait_for_the_boundary(toy_bundles,
                                                                        tmp_path):
    camera = {"name": "camera", "kind": "periodic", "period_ms": 100, "deadline_ms": 90,
              "priority": 0}
    urgent = [periodic("urgent", 1, 7, 5)]
    runs = {mode: simulate(task_scenario(toy_bundles["steppingnet"], tmp_path, urgent,
                                         workload=camera, duration_s=2.0, preemption=mode,
                                         policy="greedy")).tasks["dnn"]["urgent"]
            for mode in ("instant", "stage")}
    assert runs["instant"]["worst_response_ms"] == pytest.approx(1.0)
    assert runs["stage"]["worst_response_ms"] > 1.5  # waited for a stage boundary
    for run in runs.values():
        assert run["worst_response_ms"] <= run["rta_bound_ms"] + 1e-9


def test_dnn_classes_share_the_processor_by_priority(toy_bundles, tmp_path):
    """Two DNN classes: the higher one preempts the lower, which resumes afterwards."""
    raw = scenario_dict([{"name": "dnn", "model": str(toy_bundles["steppingnet"]),
                          "policy": {"name": "greedy"}}], duration_s=2.0,
                        budget={"kind": "tasks", "tasks": []},
                        workload=[{"name": "camera", "kind": "periodic", "period_ms": 100,
                                   "deadline_ms": 90, "priority": 0},
                                  {"name": "radar", "kind": "periodic", "period_ms": 50,
                                   "offset_ms": 5, "deadline_ms": 20, "priority": 1}])
    records = simulate(scenario_from_raw(raw, tmp_path / "two.yaml")).records
    by_class = {c: [r for r in records if r.job_class == c] for c in ("camera", "radar")}
    assert all(r.hit for r in by_class["radar"])
    camera = by_class["camera"]
    assert camera and all(r.result_stage == 4 for r in camera)  # resumed after radar
    assert all(r.busy_s < r.final_result_s - r.start_s for r in camera)  # was preempted


@st.composite
def task_sets(draw):
    n = draw(st.integers(2, 4))
    periods = [draw(st.sampled_from([5, 8, 10, 12, 20, 25, 40])) for _ in range(n)]
    shares = [draw(st.floats(0.02, 0.9 / n)) for _ in range(n)]
    tasks = []
    for i, (t, u) in enumerate(zip(periods, shares)):
        high = round(t * u, 3)
        low = round(high * draw(st.floats(0.3, 1.0)), 3)
        jitter = round(draw(st.floats(0, 0.3)) * t, 3)
        tasks.append(periodic(f"t{i}", {"dist": "uniform", "low": max(low, 0.01),
                                        "high": max(high, 0.01)}, t,
                              draw(st.integers(0, 3)), jitter_ms=jitter,
                              offset_ms=draw(st.sampled_from([0, 1, 3]))))
    return tasks, draw(st.sampled_from([0, 20, 200]))


@st.composite
def dnn_classes(draw):
    """No DNN frames, or a camera class at a random priority (its steps: 2.2-6.3 ms at
    0.5 GMAC/s, 18 ms for all four) run by greedy, so every stage is demanded."""
    if not draw(st.booleans()):
        return NO_FRAMES, "instant"
    period = draw(st.sampled_from([40, 60, 100]))
    return ({"name": "camera", "kind": "periodic", "period_ms": period,
             "jitter_ms": draw(st.sampled_from([0, 2])),
             "deadline_ms": draw(st.sampled_from([20, 30, period - 5])),
             "priority": draw(st.integers(-1, 4))},
            draw(st.sampled_from(["instant", "stage"])))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task_sets(), dnn_classes(), st.integers(0, 1000))
def test_simulated_worst_response_never_exceeds_the_rta_bound(toy_bundles, tmp_path, case,
                                                               dnn, seed):
    (tasks, switch_us), (camera, preemption) = case, dnn
    sc = task_scenario(toy_bundles["steppingnet"], tmp_path, tasks, switch_us=switch_us,
                       duration_s=0.4, workload=camera, preemption=preemption,
                       policy="greedy")
    for name, t in simulate(sc, seed=seed).tasks["dnn"].items():
        if t["rta_bound_ms"] is not None and t["jobs"]:
            assert t["worst_response_ms"] <= t["rta_bound_ms"] + 1e-6, (name, t)


def test_rta_alone_on_a_jittered_set():
    """Hand-worked: C = (1, 2.5) ms, T = (4, 10) ms, J_a = 1 ms. w_b = 2.5 + ceil((w_b + 1)
    / 4): 3.5 -> 4.5 (ceil(4.5 / 4) = 2) -> 4.5, response 4.5 ms (without the jitter of a:
    3.5 ms)."""
    bounds = response_bounds([RtaTask("a", 2, 1e-3, 4e-3, 1e-3),
                              RtaTask("b", 1, 2.5e-3, 10e-3)])
    assert bounds["b"] == pytest.approx(4.5e-3)
    assert bounds["a"] == pytest.approx(2e-3)  # its own jitter counts: 1 + 1 ms
