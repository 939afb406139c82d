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
    "safe_first": {"margin": 0.2, "confidence": 0.9},
    "budget_oracle": {},
    "oracle": {},
}
WORK = (0.001, 0.002, 0.002, 0.004)  # seconds at full budget per step
QUALITY = (0.6, 0.7, 0.75, 0.8)     # measured accuracy of each step's model


def policy(name, **params):
    return parse_kind(POLICIES, {"name": name, **params}, "s.yaml", "systems.0.policy", key="name")


def obs(now=0.0, deadline=0.010, done=0, running=0, conf=0.0, estimate=1.0, budget=1.0,
        incremental=True, foresight=None, remaining=0.0, quality=QUALITY):
    return Observation(now_s=now, deadline_s=deadline, done=done, running=running,
                       confidence=conf, budget_estimate=estimate, budget_now=budget,
                       work_s=WORK, incremental=incremental, waiting=0, quality=quality,
                       remaining_s=remaining, foresight=foresight)


def seen(correct=(False, True, True, True), usable=(True,) * 4):
    """Foresight over a constant full budget: step k started at t ends at t + WORK[k-1]."""
    return Foresight(lambda t, k: t + WORK[k - 1], usable, correct)


def test_every_policy_has_an_example():
    assert set(EXAMPLES) == set(POLICIES.names())


DRIVES = [(name, inc) for name in POLICIES.names() for inc in (True, False)
          if ("incremental" if inc else "non_incremental") in policy(name, **EXAMPLES[name]).bundles]


@pytest.mark.parametrize("name,incremental", DRIVES)
def test_decisions_are_possible_steps(name, incremental):
    p = policy(name, **EXAMPLES[name])
    see = seen()
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
    right_at_3 = seen((False, False, True, True))
    assert p.decide(obs(done=0, foresight=right_at_3)) == 1
    assert p.decide(obs(done=2, now=0.003, foresight=right_at_3)) == 3
    assert p.decide(obs(done=3, now=0.005, foresight=right_at_3)) == 0
    assert p.decide(obs(done=0, deadline=0.004, foresight=right_at_3)) == 1  # 3 too far
    assert p.decide(obs(done=1, now=0.001, deadline=0.004, foresight=right_at_3)) == 0
    assert p.decide(obs(done=0, deadline=0.0005, foresight=right_at_3)) == 0  # nothing reachable
    assert p.decide(obs(incremental=False, foresight=right_at_3)) == 3
    assert p.decide(obs(incremental=False, deadline=0.0015, foresight=right_at_3)) == 1


def test_pick_at_start_downgrades_when_the_running_subnet_would_miss():
    p = policy("pick_at_start", margin=0.0, restart=True, upgrade=False)
    # subnet 4 running, 3 ms of full-budget work left, 4 ms to the deadline
    fine = obs(now=0.002, deadline=0.006, incremental=False, running=4, remaining=0.003)
    assert p.decide(fine) == 4                          # at full budget it still fits
    dropped = fine._replace(budget_now=0.5)             # 6 ms needed now: it would miss
    assert p.decide(dropped) == 3                       # 2 ms / 0.5 = 4 ms: the largest fit
    hopeless = fine._replace(budget_now=0.1)            # not even subnet 1 fits: keep it
    assert p.decide(hopeless) == 4
    upgrading = policy("pick_at_start", margin=0.0, restart=True)
    assert upgrading.decide(obs(now=0.0, deadline=0.010, incremental=False, running=2,
                                remaining=0.001)) == 4  # 4 ms from scratch fits: upgrade


def test_safe_first_answers_first_then_runs_the_best_that_fits():
    p = policy("safe_first", margin=0.0)
    assert p.decide(obs(incremental=False, deadline=0.0001)) == 1  # an answer first, always
    assert p.decide(obs(incremental=False, done=1, now=0.001, deadline=0.004)) == 3
    assert p.decide(obs(incremental=False, done=1, now=0.001, deadline=0.0025)) == 0
    assert p.decide(obs(incremental=False, done=1, now=0.001, deadline=0.006)) == 4
    assert p.decide(obs(incremental=False, done=3, now=0.003)) == 0   # second answer: stop
    sure = policy("safe_first", margin=0.0, confidence=0.9)
    assert sure.decide(obs(incremental=False, done=1, now=0.001, conf=0.95)) == 0
    assert sure.decide(obs(incremental=False, done=1, now=0.001, conf=0.5)) == 4


def test_safe_first_never_abandons_its_first_answer_and_replans_the_second():
    p = policy("safe_first", margin=0.0, restart=True)
    first = obs(incremental=False, running=1, remaining=0.0005, budget=0.01, deadline=0.002)
    assert p.decide(first) == 1
    second = obs(now=0.002, incremental=False, done=1, running=4, remaining=0.003,
                 budget=0.5, deadline=0.007)           # 6 ms left at 0.5: misses
    assert p.decide(second) == 3                       # 2 ms / 0.5 = 4 ms fits; never 1


def test_budget_oracle_runs_to_the_most_accurate_reachable_step():
    p = policy("budget_oracle")
    see = seen(correct=None)
    assert p.decide(obs(done=0, deadline=0.005, foresight=see)) == 1   # steps 1-3 reachable
    assert p.decide(obs(done=2, now=0.003, deadline=0.005, foresight=see)) == 3
    assert p.decide(obs(done=3, now=0.005, deadline=0.005, foresight=see)) == 0
    assert p.decide(obs(done=0, deadline=0.0005, foresight=see)) == 0  # nothing reachable
    failing_3 = seen(correct=None, usable=(True, True, False, False))
    assert p.decide(obs(done=2, now=0.003, foresight=failing_3)) == 0  # 3 would fail
    assert p.decide(obs(incremental=False, deadline=0.003, foresight=see)) == 3
    assert p.decide(obs(incremental=False, foresight=see)) == 4
    assert p.decide(obs(incremental=False, deadline=0.0005, foresight=see)) == 0
    # an unusual profile: step 2 is the most accurate reachable one, so stop there
    dip = (0.6, 0.8, 0.7, 0.75)
    assert p.decide(obs(done=2, now=0.003, deadline=0.005, foresight=see, quality=dip)) == 0
