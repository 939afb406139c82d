"""`testbed trace`: the written CSV is the trace a run uses over the whole run, holds
after it, and reads back identically; its help states the trace-file rules."""

from pathlib import Path

import numpy as np
import pytest

from testbed.cli import main
from testbed.scenario import load_scenario
from testbed.sim.engine import make_trace
from testbed.sim.trace import budget_at, read_trace_csv, work_between

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("name", ["autonomous_brake", "emergency_events"])
def test_trace_command_writes_the_run_trace(tmp_path, name, capsys):
    out = tmp_path / "deep" / "t.csv"
    assert main(["trace", str(SCENARIOS / f"{name}.yaml"), "--out", str(out), "--seed", "7",
                 "--duration", "12"]) == 0
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", seed=7, duration_s=12,
                             with_systems=False)
    expected = make_trace(scenario)
    back = read_trace_csv(out)  # the default: hold after the last row
    assert back.after == "hold" and back.time_s[-1] >= scenario.horizon_s - 1e-9
    for t in np.linspace(0, scenario.horizon_s, 997):
        assert budget_at(back, t) == budget_at(expected, t)
    assert work_between(back, 0, scenario.horizon_s, 1.0) == pytest.approx(
        work_between(expected, 0, scenario.horizon_s, 1.0), rel=1e-12)
    assert f"{len(back)} rows" in capsys.readouterr().out


def test_trace_of_a_generated_budget_is_written_as_it_is(tmp_path):
    out = tmp_path / "t.csv"
    assert main(["trace", str(SCENARIOS / "autonomous_brake.yaml"), "--out", str(out),
                 "--duration", "5"]) == 0
    expected = make_trace(load_scenario(SCENARIOS / "autonomous_brake.yaml", duration_s=5,
                                        with_systems=False))
    assert read_trace_csv(out) == expected


def test_trace_command_reports_a_bad_scenario(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("duration_s: 1\n")
    assert main(["trace", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "t.csv")]) == 2
    assert "s.yaml: platform: expected a value" in capsys.readouterr().err


def test_trace_help_states_the_rules(capsys):
    with pytest.raises(SystemExit):
        main(["trace", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "holds its last value" in text and "after: repeat" in text
    assert "[0, 1]" in text and "not 35" in text and "gmacs" in text


def test_a_budget_above_peak_is_written_as_gmacs(tmp_path):
    import yaml
    raw = yaml.safe_load((SCENARIOS / "autonomous_brake.yaml").read_text())
    raw["budget"] = {"kind": "random_walk", "start": 1.1, "sigma": 0.2, "step_ms": 50,
                     "low": 0.5, "high": 1.5}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "t.csv"
    assert main(["trace", str(tmp_path / "s.yaml"), "--out", str(out), "--duration", "3"]) == 0
    scenario = load_scenario(tmp_path / "s.yaml", duration_s=3, with_systems=False)
    expected, back = make_trace(scenario), read_trace_csv(out)
    peak = scenario.platform.peak_gmacs
    assert expected.value.max() > 1 and back.column == "gmacs"
    assert work_between(back, 0, 3, peak) == pytest.approx(work_between(expected, 0, 3, peak))
