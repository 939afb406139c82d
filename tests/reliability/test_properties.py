"""Invariants of the simulator as property tests (issue 9, item 2), over random bundles,
budget traces, workloads and faults (:mod:`tests.reliability.worlds`).

* work conservation: per job, MACs executed = MACs of the stages behind the emitted
  result + MACs wasted = the MACs of its stage events;
* no result before its work: every completed step was served its full cost by the trace
  between its start and end, and a job's result time is the end of such a step;
* every job ends exactly once, in every system;
* the oracle's accuracy at the deadline is at least every online policy's, job by job;
* reuse: stepping through subnets 1..k costs subnet k's MACs with reuse, the sum of
  subnets 1..k without;
* the same seed gives the same ``jobs.csv``, byte for byte.

``EXAMPLES`` holds each test's number of examples (the README quotes the total).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import testbed.report.writers as writers
from testbed.cli import main
from testbed.scenario import load_scenario
from testbed.sim import engine
from testbed.sim.engine import simulate
from testbed.sim.platform import step_costs
from testbed.sim.policies import Policy
from testbed.sim.trace import work_between

from .worlds import ONLINE, World, budgets, bundles, fault_sections, kind, periodic_class, \
    scenario, worlds

EXAMPLES = {"accounting": 60, "oracle": 50, "reuse": 30, "same_seed": 8}


def simulated(world: World):
    with tempfile.TemporaryDirectory() as tmp:
        sc = load_scenario(world.write(Path(tmp)))
        return sc, simulate(sc)


def useful_macs(manifest, result_stage: int) -> int:
    if not result_stage:
        return 0
    if manifest.incremental:
        return sum(s.macs for s in manifest.stages[:result_stage])
    return manifest.stages[result_stage - 1].macs


@settings(max_examples=EXAMPLES["accounting"], deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_accounting_invariants(world):
    sc, result = simulated(world)
    frames = list(engine._frames(sc, result.seed))
    events = {}
    for e in result.events:
        events.setdefault((e.system, e.job_id), []).append(e)
    for spec in sc.systems:
        records = [r for r in result.records if r.system == spec.name]
        assert sorted(r.job_id for r in records) == list(range(len(frames)))  # once each
        costs = step_costs(spec.bundle, sc.platform, sc.cost_model)
        for r in records:
            mine = events.get((spec.name, r.job_id), [])
            check_job(r, mine, spec.bundle.manifest, costs, result.trace, sc.platform.peak_gmacs)


def check_job(r, events, manifest, costs, trace, peak) -> None:
    served = sum(e.macs for e in events)
    assert r.macs_executed == pytest.approx(served, rel=1e-9, abs=1e-6)
    assert r.macs_executed == pytest.approx(useful_macs(manifest, r.result_stage)
                                            + r.macs_wasted, rel=1e-9, abs=1e-6)
    for e in events:
        assert r.arrival_s <= e.start_s <= e.end_s <= r.deadline_s + 1e-12
        if e.completed:
            work = work_between(trace, e.start_s, e.end_s, peak)
            assert work >= costs.work_macs[e.stage - 1] * (1 - 1e-9) - 1e-3
    assert r.hit == (r.result_stage > 0) and (r.correct <= r.hit)
    if r.result_stage:
        ends = [e.end_s for e in events if e.completed and e.stage == r.result_stage]
        assert r.final_result_s in ends and r.final_result_s <= r.deadline_s
        assert r.first_result_s <= r.final_result_s
    else:
        assert r.final_result_s is None and not r.correct


@st.composite
def oracle_worlds(draw):
    duration = draw(st.floats(0.2, 1.5))
    b = draw(bundles())
    online = ONLINE[kind(b["method"])]
    systems = [{"name": "oracle", "model": "b0", "policy": {"name": "oracle"}}]
    systems += [{"name": f"p{i}", "model": "b0", "policy": p} for i, p in enumerate(online)]
    faults = draw(fault_sections())
    if faults:
        faults.pop("bursts", None)  # bursts make jobs overlap: outside the oracle's regime
    raw = scenario({"b0": b}, systems, [draw(periodic_class(no_overlap=True))],
                   draw(budgets(duration)), duration, draw(st.integers(0, 10_000)), faults,
                   draw(st.sampled_from((0.2, 0.5, 1.0))), draw(st.sampled_from((0.0, 0.2))))
    return World({"b0": b}, raw)


@settings(max_examples=EXAMPLES["oracle"], deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(oracle_worlds())
def test_the_oracle_is_never_less_accurate(world):
    sc, result = simulated(world)
    correct = {(r.system, r.job_id): r.correct for r in result.records}
    for spec in sc.systems[1:]:
        for (system, job), ok in correct.items():
            if system == spec.name:
                assert correct["oracle", job] >= ok, (spec.name, job)


@dataclasses.dataclass(frozen=True)
class Stepper(Policy):
    """Steps 1, 2, ... K: the next stage (incremental) or the next subnet from scratch."""

    def decide(self, obs) -> int:
        return obs.done + 1 if obs.done < obs.num_steps else 0


@settings(max_examples=EXAMPLES["reuse"], deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(bundles(), st.integers(0, 1000))
def test_reuse_costs_subnet_k_and_no_reuse_the_sum(bundle, seed):
    total_s = sum(bundle["stage_macs"]) / 0.5e9
    workload = [{"name": "cam", "kind": "periodic", "period_ms": 1e3 * total_s * 1.5 + 1,
                 "deadline_ms": 1e3 * total_s * 1.2 + 0.5}]
    raw = scenario({"b0": bundle}, [{"name": "x", "model": "b0", "policy": {"name": "fixed", "k": 1}}],
                   workload, {"kind": "constant", "budget": 1.0}, 0.5, seed, None, 0.5, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        sc = load_scenario(World({"b0": bundle}, raw).write(Path(tmp)))
    spec = dataclasses.replace(sc.systems[0], policy=Stepper())
    result = simulate(dataclasses.replace(sc, systems=(spec,)))
    manifest = spec.bundle.manifest
    k = manifest.num_stages
    expected = manifest.cost_to_reach(k) if manifest.incremental else \
        sum(s.macs for s in manifest.stages)
    assert result.records and all(r.stages_done == k or not manifest.incremental
                                  for r in result.records)
    for r in result.records:
        assert r.result_stage == k and r.macs_executed == expected
        assert r.macs_wasted == expected - manifest.cost_to_reach(k)
    by_job = Counter(e.job_id for e in result.events if e.completed)
    assert set(by_job.values()) == {k}


@settings(max_examples=EXAMPLES["same_seed"], deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_the_same_seed_gives_the_same_jobs_csv(world, monkeypatch):
    monkeypatch.setattr(writers, "write_figures", lambda folder, report: {})
    with tempfile.TemporaryDirectory() as tmp:
        path = world.write(Path(tmp))
        texts = []
        for out in ("a", "b"):
            assert main(["run", str(path), "--out", str(Path(tmp) / out), "--seeds", "2"]) == 0
            texts.append((Path(tmp) / out / "jobs.csv").read_bytes())
        assert texts[0] == texts[1] and texts[0].count(b"\n") > 1
