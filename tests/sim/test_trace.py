"""Pure time math over piecewise-constant traces, and the trace CSV format."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathlib import Path

from testbed.errors import ConfigError
from testbed.sim.trace import (Trace, after_note, budget_at, covering, finish_time,
                               read_trace_csv, work_between)

PEAK = 1.0  # GMAC/s: 1e6 MACs take 1 ms at budget 1.0


def trace(rows, after="hold", column="budget"):
    t, v = zip(*rows)
    return Trace(np.array(t), np.array(v), column, after)


STEPS = trace([(0, 1.0), (1, 0.5), (2, 0.0), (3, 1.0)])  # integral: 1.0 at t=1, 1.5 at t=2..3


@pytest.mark.parametrize("start, work_s, expected", [
    (0.0, 0.5, 0.5),        # inside the first segment
    (0.0, 1.0, 1.0),        # exactly at a row
    (0.0, 1.5, 2.0),        # 1.0 + 0.5 * 1 s: reaches W at the start of the stall
    (0.0, 1.6, 3.1),        # stalls from 2 to 3, then 0.1 more at full budget
    (0.5, 0.75, 1.5),       # 0.5 at 1.0, then 0.25 at 0.5 (0.5 s)
    (2.5, 0.2, 3.2),        # starts inside the stall
    (10.0, 2.0, 12.0),      # after the last row: holds 1.0
    (1.0, 0.0, 1.0),        # no work: finishes at once
])
def test_finish_time_under_a_step_trace(start, work_s, expected):
    assert finish_time(STEPS, start, work_s * PEAK * 1e9, PEAK) == pytest.approx(expected)


def test_finish_time_never_when_the_budget_stays_zero():
    stalled = trace([(0, 1.0), (1, 0.0)])
    assert finish_time(stalled, 0.0, 2e9, PEAK) == math.inf
    assert finish_time(trace([(0, 0.0)]), 0.0, 1.0, PEAK) == math.inf


def test_repeat_cycles_and_hold_holds():
    rows = [(0, 1.0), (1, 0.0), (2, 7.0)]  # repeat: cycle 2 s, last row's value unused
    rep, hold = trace(rows, "repeat"), trace(rows, "hold")
    assert finish_time(rep, 0.0, 2.5e9, PEAK) == pytest.approx(4.5)   # 1 + 1 + 0.5 s of work
    assert finish_time(rep, 1.5, 0.5e9, PEAK) == pytest.approx(2.5)
    assert finish_time(hold, 0.0, 2.5e9, PEAK) == pytest.approx(2 + 1.5 / 7)
    assert budget_at(rep, 2.5) == 1.0 and budget_at(rep, 3.5) == 0.0 and budget_at(hold, 9) == 7.0
    assert work_between(rep, 0.0, 10.0, PEAK) == pytest.approx(5e9)


def test_gmacs_column_is_absolute():
    absolute = trace([(0, 2.0), (1, 0.5)], column="gmacs")
    assert finish_time(absolute, 0.0, 2e9, peak_gmacs=123.0) == pytest.approx(1.0)
    assert work_between(absolute, 0.0, 3.0, peak_gmacs=123.0) == pytest.approx(3e9)


rows_strategy = st.lists(st.tuples(st.floats(0.01, 5.0), st.sampled_from([0.0, 0.3, 1.0, 2.5])),
                         min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, after=st.sampled_from(["repeat", "hold"]),
       start=st.floats(0.0, 40.0), work=st.floats(0.0, 20.0))
def test_finish_time_is_where_the_integral_reaches_the_work(rows, after, start, work):
    times = np.concatenate([[0.0], np.cumsum([d for d, _ in rows])])
    values = [1.0] + [v for _, v in rows]
    tr = Trace(times, np.array(values), "budget", after)
    end = finish_time(tr, start, work * 1e9, PEAK)
    if math.isinf(end):
        return
    assert end >= start
    assert work_between(tr, start, end, PEAK) == pytest.approx(work * 1e9, rel=1e-9, abs=1e-3)
    later = finish_time(tr, start + 0.5, work * 1e9, PEAK)
    assert later >= end  # starting later never finishes earlier


def test_csv_round_trip_of_n_rows(tmp_path):
    rng = np.random.default_rng(0)
    n = 257
    original = Trace(np.cumsum(np.r_[0, rng.uniform(0, 1, n - 1)]), rng.uniform(0, 1, n))
    original.write_csv(tmp_path / "t.csv")
    back = read_trace_csv(tmp_path / "t.csv")
    assert len(back) == n and back == original


def test_csv_reads_comments_and_gmacs(tmp_path):
    (tmp_path / "g.csv").write_text("# a comment\ntime_s, gmacs\n0,0.5\n\n2.5,0.25\n")
    back = read_trace_csv(tmp_path / "g.csv", after="hold")
    assert back.column == "gmacs" and back.after == "hold" and back.value.tolist() == [0.5, 0.25]


@pytest.mark.parametrize("text, where", [
    ("time_s,budget\n0,1.0\n1,-0.5\n", "row 2 (line 3)"),
    ("time_s,budget\n0,1.0\n1,nan\n", "row 2 (line 3)"),
    ("time_s,budget\n0,1.0\n2,0.5\n1,0.5\n", "row 3 (line 4)"),
    ("time_s,budget\n0.5,1.0\n", "row 1 (line 2)"),
    ("time_s,budget\n0,1.0\n1,fast\n", "row 2 (line 3)"),
    ("time_s,budget\n0,1.0,3\n", "row 1 (line 2)"),
    ("time,budget\n0,1.0\n", "header (line 1)"),
    ("time_s,watts\n0,1.0\n", "header (line 1)"),
])
def test_bad_trace_names_file_and_row(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_trace_csv(path)
    assert str(path) in str(err.value) and where in str(err.value)


@pytest.mark.parametrize("text", ["", "time_s,budget\n"])
def test_empty_trace_is_an_error(tmp_path, text):
    (tmp_path / "e.csv").write_text(text)
    with pytest.raises(ConfigError, match="e.csv"):
        read_trace_csv(tmp_path / "e.csv")


def test_missing_trace_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.csv"):
        read_trace_csv(tmp_path / "nope.csv")


# -- after the last row: hold by default, repeat when asked ------------------------------
DRIVE = "time_s,budget\n0,1.0\n1,0.5\n2,0.2\n"  # 0.2 from 2 s on (hold), or a 2 s cycle


def test_a_trace_file_holds_its_last_value_by_default(tmp_path):
    (tmp_path / "d.csv").write_text(DRIVE)
    held = read_trace_csv(tmp_path / "d.csv")
    assert held.after == "hold" and Trace(held.time_s, held.value).after == "hold"
    assert budget_at(held, 2.5) == budget_at(held, 100.0) == 0.2
    assert work_between(held, 0, 10, PEAK) == pytest.approx((1.0 + 0.5 + 8 * 0.2) * 1e9)


def test_a_trace_file_repeats_when_asked(tmp_path):
    (tmp_path / "d.csv").write_text(DRIVE)
    rep = read_trace_csv(tmp_path / "d.csv", after="repeat")
    assert budget_at(rep, 2.5) == 1.0 and budget_at(rep, 3.5) == 0.5     # cycle of 2 s
    assert work_between(rep, 0, 10, PEAK) == pytest.approx(5 * 1.5e9)


def test_percent_budget_is_refused_naming_the_row(tmp_path):
    path = tmp_path / "pct.csv"
    path.write_text("time_s,budget\n0,100\n2.5,35\n")
    with pytest.raises(ConfigError) as err:
        read_trace_csv(path)
    msg = str(err.value)
    assert str(path) in msg and "row 1 (line 2)" in msg and "[0, 1]" in msg
    assert "fraction of the platform's peak" in msg and "divide by 100" in msg
    assert "gmacs" in msg and "\n" not in msg
    path.write_text("time_s,budget\n0,1.0\n2.5,1.2\n")
    with pytest.raises(ConfigError, match=r"row 2 \(line 3\)"):
        read_trace_csv(path)


def test_budget_bounds_are_inclusive_and_gmacs_is_unbounded(tmp_path):
    (tmp_path / "b.csv").write_text("time_s,budget\n0,0\n1,1\n")
    assert read_trace_csv(tmp_path / "b.csv").value.tolist() == [0.0, 1.0]
    (tmp_path / "g.csv").write_text("time_s,gmacs\n0,35\n")
    assert read_trace_csv(tmp_path / "g.csv").value.tolist() == [35.0]


@pytest.mark.parametrize("path", sorted(
    (Path(__file__).resolve().parents[2] / "scenarios" / "traces").glob("*.csv")),
    ids=lambda p: p.name)
def test_shipped_traces_load(path):
    tr = read_trace_csv(path)
    assert tr.column == "gmacs" or tr.value.max() <= 1.0


def test_after_note_when_the_run_outlasts_a_held_trace():
    tr = Trace(np.array([0.0, 45.0]), np.array([1.0, 0.8]), source="/x/drive.csv")
    assert after_note(tr, 60.0) == (
        "trace drive.csv ends at 45 s; the run lasts 60 s: its last value 0.8 holds for the "
        "remaining 15 s (after: repeat in the scenario's budget repeats it instead)")


def test_after_note_when_the_run_outlasts_a_repeating_trace():
    tr = Trace(np.array([0.0, 20.0, 45.0]), np.array([1.0, 0.5, 1.0]), after="repeat",
               source="drive.csv")
    assert after_note(tr, 60.0) == ("trace drive.csv ends at 45 s; the run lasts 60 s: it "
                                    "repeats (cycle 45 s), 1.33 cycles in all")


def test_after_note_is_none_when_the_trace_covers_the_run():
    tr = Trace(np.array([0.0, 60.0]), np.array([1.0, 1.0]))
    assert after_note(tr, 60.0) is None and after_note(tr.with_after("repeat"), 30.0) is None
    assert after_note(tr, 61.0).startswith("the budget trace ends at 60 s")


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, horizon=st.floats(0.5, 30.0))
def test_covering_is_the_same_budget_up_to_the_horizon(rows, horizon):
    times = np.concatenate([[0.0], np.cumsum([d for d, _ in rows])])
    rep = Trace(times, np.array([1.0] + [v for _, v in rows]), "budget", "repeat")
    flat = covering(rep, horizon)
    assert flat.after == "hold" and flat.time_s[-1] == horizon
    for t in np.linspace(0, horizon, 53)[:-1] + horizon / 211:
        if np.min(np.abs(flat.time_s - t)) > 1e-9:  # off the row boundaries (rounding)
            assert budget_at(flat, t) == budget_at(rep, t)
    assert work_between(flat, 0, horizon, PEAK) == pytest.approx(
        work_between(rep, 0, horizon, PEAK), rel=1e-9, abs=1e-3)
