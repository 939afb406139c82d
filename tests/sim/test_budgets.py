"""Every registered budget generator: valid traces, seeded, parameters validated."""

from pathlib import Path

import numpy as np
import pytest

from testbed.errors import ConfigError
from testbed.sim.budgets import BUDGETS
from testbed.sim.params import parse_kind
from testbed.sim.seeds import component_rng

EXAMPLES = {
    "constant": {"budget": 0.7},
    "step": {"times_s": [0, 2, 5], "budgets": [1.0, 0.2, 0.6]},
    "markov": {"modes": {"normal": {"budget": 1.0, "dwell_s": [1, 3]},
                         "power_save": {"budget": 0.3, "dwell_s": 2}}},
    "contention": {"base": 1.0, "bursts": [{"rate_hz": 2, "share": [0.2, 0.9],
                                            "duration_ms": [50, 500]},
                                           {"rate_hz": 5, "share": 0.3, "duration_ms": 30,
                                            "arrival": "periodic"}]},
    "random_walk": {"start": 0.8, "sigma": 0.1, "step_ms": 50, "low": 0.1, "high": 1.0},
    "thermal": {"tau_s": 5, "heat_c": 100},
    "trace": {"file": "t.csv"},
}
HORIZON = 30.0


def test_every_generator_has_an_example():
    assert set(EXAMPLES) == set(BUDGETS.names())


GENERATED = [n for n in BUDGETS.names() if n != "trace"]  # "trace" reads a file: covered by the scenario tests


def generated(name: str, seed: int = 0):
    gen = parse_kind(BUDGETS, {"kind": name, **EXAMPLES[name]}, "s.yaml", "budget")
    return gen.generate(component_rng(seed, "budget"), HORIZON)


@pytest.mark.parametrize("name", GENERATED)
def test_generates_a_valid_seeded_trace(name):
    trace = generated(name)
    assert trace.time_s[0] == 0 and trace.time_s[-1] == HORIZON and trace.after == "hold"
    assert np.all(np.diff(trace.time_s) >= 0) and np.all(trace.value >= 0)
    assert trace == generated(name)


@pytest.mark.parametrize("name", ["markov", "contention", "random_walk"])
def test_seed_changes_random_generators(name):
    assert generated(name, 1) != generated(name, 2)


@pytest.mark.parametrize("name", GENERATED)
def test_unknown_parameter_is_named(name):
    with pytest.raises(ConfigError, match=r"s.yaml: budget\.colour: expected a known key"):
        parse_kind(BUDGETS, {"kind": name, **EXAMPLES[name], "colour": 1}, "s.yaml", "budget")


@pytest.mark.parametrize("raw, where", [
    ({"kind": "constant", "budget": -1}, "budget.budget"),
    ({"kind": "constant", "budget": "full"}, "budget.budget"),
    ({"kind": "step", "times_s": [0, 1], "budgets": [1.0]}, "budget.budgets"),
    ({"kind": "step", "times_s": [1, 2], "budgets": [1.0, 0.5]}, "budget.times_s"),
    ({"kind": "markov", "modes": {"a": {"budget": 1, "dwell_s": [3, 1]}}},
     "budget.modes.a.dwell_s"),
    ({"kind": "markov", "modes": {"a": {"budget": 1, "dwell_s": 1}}, "start": "b"}, "budget.start"),
    ({"kind": "contention", "bursts": {"rate_hz": 1, "share": 1.5, "duration_ms": 5}},
     "budget.bursts.0.share"),
    ({"kind": "random_walk", "start": 2.0}, "budget.start"),
    ({"kind": "trace", "file": "t.csv", "after": "loop"}, "budget.after"),
    ({"kind": "warp"}, "budget.kind"),
    ({"budget": 1.0}, "budget.kind"),
])
def test_bad_parameters_name_the_field(raw, where):
    with pytest.raises(ConfigError, match=rf"s.yaml: {where}: expected"):
        parse_kind(BUDGETS, raw, "s.yaml", "budget")


def test_contention_subtracts_overlapping_shares():
    trace = generated("contention")
    assert trace.value.max() <= 1.0 and trace.value.min() < 0.5


def test_thermal_budget_sags_as_it_heats():
    trace = generated("thermal")
    assert trace.value[0] == 1.0 and trace.value[1:].max() < 1.0


def test_a_trace_file_holds_unless_the_scenario_says_repeat(tmp_path):
    (tmp_path / "t.csv").write_text("time_s,budget\n0,1.0\n1,0.4\n")
    held = parse_kind(BUDGETS, {"kind": "trace", "file": "t.csv"}, "s.yaml", "budget")
    rep = parse_kind(BUDGETS, {"kind": "trace", "file": "t.csv", "after": "repeat"}, "s.yaml",
                     "budget")
    assert held.after == "hold" and held.load(tmp_path).trace.after == "hold"
    assert rep.load(tmp_path).trace.after == "repeat"


def test_the_trace_option_holds_unless_the_scenario_says_repeat(tmp_path):
    from testbed.scenario import _trace_budget
    assert _trace_budget({"kind": "constant", "budget": 1.0}, "t.csv")["after"] == "hold"
    assert _trace_budget(None, "t.csv")["after"] == "hold"
    assert _trace_budget({"kind": "trace", "file": "x.csv", "after": "repeat"},
                         "t.csv")["after"] == "repeat"


def test_shipped_scenarios_with_a_trace_file_say_what_follows_it():
    """Each shipped scenario that reads a trace file states ``after`` (so a change of the
    default cannot change its results); emergency_events relies on a repeating cycle."""
    import yaml
    root = Path(__file__).resolve().parents[2] / "scenarios"
    for path in sorted(root.glob("*.yaml")):
        budget = yaml.safe_load(path.read_text())["budget"]
        if budget.get("kind") == "trace":
            assert budget.get("after") in ("hold", "repeat"), path.name
    emergency = yaml.safe_load((root / "emergency_events.yaml").read_text())["budget"]
    assert emergency["after"] == "repeat"
