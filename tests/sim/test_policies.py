"""Policies as pure functions of an Observation; every registered policy validates."""

import pytest

from testbed.errors import ConfigError
from testbed.sim.observation import Foresight, Observation
from testbed.sim.params import parse_kind
from testbed.sim.policies import POLICIES

EXAMPLES = {
    "greedy": {},
    "deadline_aware": {"margin": 0.2, "min_stages": 1, "ewma_alpha": 0.5},
    "confidence": {"threshold": 0.8},
    "fixed": {"k": 2},
    "pick_at_start": {"restart": True},
    "oracle": {},
}
WORK = (0.001, 0.002, 0.002, 0.004)  # seconds at full budget per step


def policy(name, **params):
    return parse_kind(POLICIES, {"name": name, **params}, "s.yaml", "systems.0.policy", key="name")


def obs(now=0.0, deadline=0.010, done=0, running=0, conf=0.0, estimate=1.0, budget=1.0,
        incremental=True, foresight=None):
    return Observation(now, deadline, done, running, conf, estimate, budget, WORK, incremental,
                       0, foresight)


def test_every_policy_has_an_example():
    assert set(EXAMPLES) == set(POLICIES.names())


DRIVES = [(name, inc) for name in POLICIES.names() for inc in (True, False)
          if ("incremental" if inc else "non_incremental") in policy(name, **EXAMPLES[name]).bundles]


@pytest.mark.parametrize("name,incremental", DRIVES)
def test_decisions_are_possible_steps(name, incremental):
    p = policy(name, **EXAMPLES[name])
    see = Foresight((False, True, True, True), lambda t, k: t + WORK[k - 1])
    for done in range(len(WORK)):
        k = p.decide(obs(done=done, incremental=incremental, foresight=see))
        assert k == 0 or (k == done + 1 if incremental else 1 <= k <= len(WORK))


@pytest.mark.parametrize("name", POLICIES.names())
def test_unknown_parameter_is_named(name):
    with pytest.raises(ConfigError, match=r"systems\.0\.policy\.speed: expected a known key"):
        policy(name, **EXAMPLES[name], speed=2)


@pytest.mark.parametrize("name, params, field", [
    ("deadline_aware", {"margin": -0.1}, "margin"),
    ("confidence", {"threshold": 1.5}, "threshold"),
    ("fixed", {}, "k"),
    ("fixed", {"k": 0}, "k"),
    ("pick_at_start", {"restart": "yes"}, "restart"),
])
def test_bad_parameter_is_named(name, params, field):
    with pytest.raises(ConfigError, match=rf"systems\.0\.policy\.{field}: expected"):
        policy(name, **params)


def test_greedy_runs_every_stage():
    p = policy("greedy")
    assert [p.decide(obs(done=d, deadline=0.0001)) for d in range(5)] == [1, 2, 3, 4, 0]


def test_deadline_aware_starts_a_stage_only_if_predicted_to_fit():
    p = policy("deadline_aware", margin=0.0)
    assert p.decide(obs(done=0, deadline=0.0)) == 1                    # min_stages: always
    assert p.decide(obs(now=0.005, done=1, deadline=0.007)) == 2        # 2 ms at 1.0 fits
    assert p.decide(obs(now=0.005, done=1, deadline=0.007, estimate=0.5)) == 0  # 4 ms does not
    assert p.decide(obs(done=1, estimate=0.0)) == 0                      # stalled: never fits
    assert p.decide(obs(done=4)) == 0


def test_confidence_stops_once_confident():
    p = policy("confidence", threshold=0.8)
    assert p.decide(obs(done=1, conf=0.85)) == 0
    assert p.decide(obs(done=1, conf=0.5)) == 2
    assert p.decide(obs(done=0, conf=0.0)) == 1


def test_fixed_runs_exactly_k():
    p = policy("fixed", k=2)
    assert [p.decide(obs(done=d)) for d in range(3)] == [1, 2, 0]
    assert p.decide(obs(done=0, incremental=False)) == 2
    assert p.decide(obs(done=2, incremental=False)) == 0


def test_pick_at_start_takes_the_largest_predicted_fit_and_upgrades_on_restart():
    p = policy("pick_at_start", margin=0.0, restart=True)
    assert p.decide(obs(incremental=False, deadline=0.003)) == 3   # 2 ms fits, 4 ms does not
    assert p.decide(obs(incremental=False, deadline=0.0005)) == 1  # nothing fits: smallest
    assert p.decide(obs(incremental=False, done=3)) == 0
    low = obs(now=0.001, incremental=False, running=1, budget=0.1, deadline=0.006)
    high = obs(now=0.001, incremental=False, running=1, budget=1.0, deadline=0.006)
    assert p.decide(low) == 1 and p.decide(high) == 4  # 4 ms from now fits at full budget
    assert p.watches_budget and not policy("pick_at_start").watches_budget


def test_oracle_stops_at_the_earliest_right_step_it_can_reach():
    p = policy("oracle")
    right_at_3 = Foresight((False, False, True, True), lambda t, k: t + WORK[k - 1])
    assert p.decide(obs(done=0, foresight=right_at_3)) == 1
    assert p.decide(obs(done=2, now=0.003, foresight=right_at_3)) == 3
    assert p.decide(obs(done=3, now=0.005, foresight=right_at_3)) == 0
    assert p.decide(obs(done=0, deadline=0.004, foresight=right_at_3)) == 1  # 3 too far
    assert p.decide(obs(done=1, now=0.001, deadline=0.004, foresight=right_at_3)) == 0
    assert p.decide(obs(done=0, deadline=0.0005, foresight=right_at_3)) == 0  # nothing reachable
    assert p.decide(obs(incremental=False, foresight=right_at_3)) == 3
    assert p.decide(obs(incremental=False, deadline=0.0015, foresight=right_at_3)) == 1
