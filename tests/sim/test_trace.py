"""Pure time math over piecewise-constant traces, and the trace CSV format."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.errors import ConfigError
from testbed.sim.trace import Trace, budget_at, finish_time, read_trace_csv, work_between

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
