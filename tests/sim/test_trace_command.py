"""`testbed trace`: the written CSV is the trace a run uses, and reads back identically."""

from pathlib import Path

import pytest

from testbed.cli import main
from testbed.scenario import load_scenario
from testbed.sim.engine import make_trace
from testbed.sim.trace import read_trace_csv

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("name", ["autonomous_brake", "emergency_events"])
def test_trace_command_writes_the_run_trace(tmp_path, name, capsys):
    out = tmp_path / "deep" / "t.csv"
    assert main(["trace", str(SCENARIOS / f"{name}.yaml"), "--out", str(out), "--seed", "7",
                 "--duration", "12"]) == 0
    expected = make_trace(load_scenario(SCENARIOS / f"{name}.yaml", seed=7, duration_s=12,
                                        with_systems=False))
    back = read_trace_csv(out, after=expected.after)
    assert back == expected and f"{len(expected)} rows" in capsys.readouterr().out


def test_trace_command_reports_a_bad_scenario(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("duration_s: 1\n")
    assert main(["trace", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "t.csv")]) == 2
    assert "s.yaml: platform: expected a value" in capsys.readouterr().err
