"""Task-set scenarios (issue 20): validation names the field; records and reports keep
their shape."""

import json

import pytest

from testbed.errors import ConfigError
from testbed.scenario import scenario_from_raw
from testbed.sim.engine import simulate

from ..builders import scenario_dict

GOOD_TASK = {"name": "planning", "kind": "periodic", "period_ms": 100, "execution_ms": 10,
             "priority": 2}


def raw_with(bundle, budget=None, **top):
    budget = budget or {"kind": "tasks", "tasks": [GOOD_TASK]}
    return scenario_dict([{"name": "dnn", "model": str(bundle), "policy": {"name": "greedy"}}],
                         budget=budget, **top)


@pytest.mark.parametrize("budget, where", [
    ({"kind": "tasks", "scheduler": "rm", "tasks": []}, "budget.scheduler"),
    ({"kind": "tasks", "preemption": "never", "tasks": []}, "budget.preemption"),
    ({"kind": "tasks", "context_switch_us": -1, "tasks": []}, "budget.context_switch_us"),
    ({"kind": "tasks", "quantum": 1, "tasks": []}, "budget.quantum"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "execution_ms": -2}]},
     "budget.tasks.0.execution_ms"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "execution_ms": {"dist": "gamma"}}]},
     "budget.tasks.0.execution_ms.dist"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "execution_ms": {"dist": "uniform", "low": 5,
                                                               "high": 2}}]},
     "budget.tasks.0.execution_ms.high"),
    ({"kind": "tasks", "tasks": [GOOD_TASK, {**GOOD_TASK, "period_ms": None, "rate_hz": 5}]},
     "budget.tasks.1.name"),
    ({"kind": "tasks", "tasks": [{k: v for k, v in GOOD_TASK.items() if k != "period_ms"}]},
     "budget.tasks.0.period_ms"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "kind": "sporadic", "period_ms": None,
                                  "rate_hz": 5}]}, "budget.tasks.0.deadline_ms"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "jitter_ms": 100}]}, "budget.tasks.0.jitter_ms"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "priority": "high"}]},
     "budget.tasks.0.priority"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "name": "camera"}]}, "budget.tasks.0.name"),
    ({"kind": "tasks", "tasks": [{**GOOD_TASK, "execution_ms": {"dist": "samples",
                                                               "file": "none.csv"}}]},
     "budget.tasks.0.execution_ms.file"),
])
def test_a_bad_task_set_names_its_field(toy_bundles, tmp_path, budget, where):
    for task in budget.get("tasks", []):
        for key in [k for k, v in task.items() if v is None]:
            del task[key]
    with pytest.raises(ConfigError) as err:
        scenario_from_raw(raw_with(toy_bundles["steppingnet"], budget), tmp_path / "s.yaml")
    assert err.value.where == where, str(err.value)
    assert "s.yaml" in str(err.value)


def test_bounds_and_faults_are_refused_with_one_clear_error(toy_bundles, tmp_path):
    bundle = toy_bundles["steppingnet"]
    with pytest.raises(ConfigError, match="no oracle bound with budget kind tasks") as err:
        scenario_from_raw(raw_with(bundle, bounds=["budget_oracle"]), tmp_path / "s.yaml")
    assert err.value.where == "bounds"
    with pytest.raises(ConfigError, match="no faults section") as err:
        scenario_from_raw(raw_with(bundle, faults={"stalls": {"rate_hz": 0.1,
                                                              "duration_ms": 50}}),
                          tmp_path / "s.yaml")
    assert err.value.where == "faults"


def test_samples_csv_feeds_execution_times_and_bad_rows_are_named(toy_bundles, tmp_path):
    (tmp_path / "times.csv").write_text("execution_ms\n4.0\n6.0\n")
    task = {**GOOD_TASK, "execution_ms": {"dist": "samples", "file": "times.csv"}}
    sc = scenario_from_raw(raw_with(toy_bundles["steppingnet"],
                                    {"kind": "tasks", "tasks": [task]}), tmp_path / "s.yaml")
    stats = simulate(sc).tasks["dnn"]["planning"]
    assert stats["jobs"] == 50 and 4.0 <= stats["worst_response_ms"]
    assert stats["rta_bound_ms"] is not None
    (tmp_path / "times.csv").write_text("execution_ms\n4.0\nslow\n")
    with pytest.raises(ConfigError, match="row 3"):
        scenario_from_raw(raw_with(toy_bundles["steppingnet"],
                                   {"kind": "tasks", "tasks": [task]}), tmp_path / "s.yaml")


def test_runs_are_deterministic_per_seed_and_every_system_meets_the_same_tasks(
        toy_bundles, tmp_path):
    entries = [{"name": m, "model": str(toy_bundles[m]), "policy": "auto"}
               for m in ("steppingnet", "static")]
    raw = scenario_dict(entries, budget={"kind": "tasks", "context_switch_us": 10, "tasks": [
        {**GOOD_TASK, "execution_ms": {"dist": "lognormal", "median": 10, "sigma": 0.5}}]},
        duration_s=3.0, tuning={"seeds": 1, "duration_s": 1.0})
    sc = scenario_from_raw(raw, tmp_path / "s.yaml")
    a, b = simulate(sc, seed=4), simulate(sc, seed=4)
    assert a.records == b.records and a.tasks == b.tasks
    jobs = {name: t["planning"]["jobs"] for name, t in a.tasks.items()}
    assert len(set(jobs.values())) == 1
    assert a.tasks["steppingnet"]["planning"]["rta_bound_ms"] is None  # unbounded lognormal
    assert simulate(sc, seed=5).tasks != a.tasks


def test_testbed_run_reports_the_tasks(toy_bundles, tmp_path):
    from testbed.api import write_report
    raw = raw_with(toy_bundles["steppingnet"], duration_s=2.0, seeds=2)
    raw["workload"][0]["priority"] = 1
    sc = scenario_from_raw(raw, tmp_path / "s.yaml")
    write_report(sc, tmp_path / "out", jobs="none")
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    planning = doc["tasks"]["planning"]
    assert planning["jobs"] == 40 and planning["deadline_misses"] == 0
    assert planning["worst_response_ms"] <= planning["rta_bound_ms"]
    assert set(planning["systems"]) == {"dnn"}
    assert doc["systems"]["dnn"]["metrics"]["hit_rate"]["mean"] > 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Other tasks on the platform" in text and "| planning / dnn | 40 |" in text


def test_a_class_can_run_its_own_bundle_and_policy(toy_bundles, tmp_path):
    """Two DNN workloads on one platform, each with its bundle: radar runs the static
    bundle (one subnet per job) while camera runs the system's incremental one."""
    workload = [{"name": "camera", "kind": "periodic", "period_ms": 100, "deadline_ms": 90},
                {"name": "radar", "kind": "periodic", "period_ms": 50, "deadline_ms": 40,
                 "priority": 1}]
    system = {"name": "dnn", "model": str(toy_bundles["steppingnet"]),
              "policy": {"name": "greedy"},
              "classes": {"radar": {"model": str(toy_bundles["static"]),
                                    "policy": {"name": "fixed", "k": 2}}}}
    raw = scenario_dict([system], workload=workload, duration_s=2.0,
                        budget={"kind": "tasks", "tasks": []})
    records = simulate(scenario_from_raw(raw, tmp_path / "s.yaml")).records
    radar = [r for r in records if r.job_class == "radar"]
    camera = [r for r in records if r.job_class == "camera"]
    assert radar and all(r.result_stage == 2 and r.stages_done == 1 for r in radar)
    assert camera and all(r.result_stage == 4 for r in camera)
    system["classes"]["radar"]["policy"] = "auto"
    with pytest.raises(ConfigError) as err:
        scenario_from_raw(raw, tmp_path / "s.yaml")
    assert err.value.where == "systems.0.classes.radar.policy"
    system["classes"] = {"lidar": system["classes"]["radar"]}
    with pytest.raises(ConfigError) as err:
        scenario_from_raw(raw, tmp_path / "s.yaml")
    assert err.value.where == "systems.0.classes.lidar"
    raw["budget"] = {"kind": "constant", "budget": 1.0}
    system["classes"] = {"radar": {"model": str(toy_bundles["static"]),
                                   "policy": {"name": "fixed", "k": 2}}}
    with pytest.raises(ConfigError) as err:
        scenario_from_raw(raw, tmp_path / "s.yaml")
    assert err.value.where == "systems.0.classes"


def test_a_budget_watching_policy_replans_as_a_preemption_leaves_its_monitor(toy_bundles,
                                                                          tmp_path):
    """Every frame (100 ms period, 60 ms deadline) starts subnet 4 (18 ms), a 44.5 ms
    higher-priority job preempts it at 3 ms; at 47.5 ms 15 ms of it are left. With
    ``restart`` the policy is asked again as the monitor's reading recovers (0.5 at 48 ms:
    subnet 4 would end at 78 ms, subnet 1 fits) and answers in time; without, subnet 4
    runs into the deadline."""
    def hit_rate(restart):
        system = {"name": "dnn", "model": str(toy_bundles["slimmable"]),
                  "policy": {"name": "pick_at_start", "restart": restart, "margin": 0.0}}
        raw = scenario_dict([system], duration_s=3.0, budget={"kind": "tasks", "tasks": [
            {"name": "hog", "kind": "periodic", "period_ms": 100, "offset_ms": 3,
             "execution_ms": 44.5, "priority": 3}]})
        records = simulate(scenario_from_raw(raw, tmp_path / "s.yaml")).records
        return sum(r.hit for r in records) / len(records), records
    replanned, records = hit_rate(True)
    assert replanned == 1.0 and sum(r.macs_wasted for r in records) > 0
    assert hit_rate(False)[0] == 0.0


def test_a_job_start_table_is_refused_with_task_sets(tmp_path):
    from tests.sim.test_latency import graph_bundle
    bundle = graph_bundle(tmp_path / "b")
    raw = raw_with(bundle, cost_model="latency",
                   platform={"peak_gmacs": 0.05, "latency": {
                       "gmacs": 0.05, "job_start": [{"gap_ms": 1, "us": 5}]}})
    with pytest.raises(ConfigError, match="no job_start table") as err:
        scenario_from_raw(raw, tmp_path / "s.yaml")
    assert err.value.where == "platform.latency.job_start"
    del raw["platform"]["latency"]["job_start"]
    assert simulate(scenario_from_raw(raw, tmp_path / "s.yaml")).records
