"""Choosing how the budget is imposed, and the time math of dilation and the co-runner."""

import numpy as np
import pytest

from testbed.errors import TestbedError
from testbed.sim.trace import Trace
from testbed.validate.corunner import busy_seconds, busy_share, duty_cycle
from testbed.validate.mechanism import DilatedClock, Detection, choose, detect_fifo, dilate

REFUSED = Detection(False, "SCHED_FIFO refused (Operation not permitted)")
ALLOWED = Detection(True, "SCHED_FIFO allowed", 0.95)


def never(*_):
    raise AssertionError("the detector must not be asked")


def test_auto_falls_back_to_dilation_when_the_os_refuses():
    m = choose("auto", lambda: REFUSED)
    assert m.name == "dilation" and m.requested == "auto"
    assert "fallback" in m.reason and "refused" in m.reason


def test_auto_takes_the_corunner_where_allowed_and_knows_the_rt_cap():
    m = choose("auto", lambda: ALLOWED)
    assert m.name == "corunner"
    assert m.min_budget == pytest.approx(0.05)


def test_dilation_asked_for_never_detects():
    assert choose("dilation", never).name == "dilation"


def test_corunner_asked_for_but_refused_is_one_error():
    with pytest.raises(TestbedError, match="--mechanism corunner.*refused.*dilation"):
        choose("corunner", lambda: REFUSED)


def test_unknown_mechanism_is_an_error():
    with pytest.raises(TestbedError, match="--mechanism"):
        choose("magic", never)


def test_detect_fifo_answers_and_restores_the_policy():
    import os
    before = os.sched_getscheduler(0)
    found = detect_fifo()
    assert isinstance(found.allowed, bool) and found.reason
    assert os.sched_getscheduler(0) == before


# budget 1.0 on [0, 1), 0.5 on [1, 2), 0.25 from 2 on
TRACE = Trace(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.25]))


@pytest.mark.parametrize("start, work, end", [
    (0.0, 0.5, 0.5),      # full budget
    (0.5, 1.0, 2.0),      # 0.5 s at 1.0, then 0.5 s of work at 0.5
    (1.5, 0.5, 3.0),      # 0.25 at 0.5 by t=2, 0.25 more at 0.25
    (0.2, 0.0, 0.2),      # nothing to do
])
def test_dilation_stretches_by_the_trace_integral(start, work, end):
    assert dilate(TRACE._integral, start, work) == pytest.approx(end)


def test_dilation_of_a_gmacs_trace_uses_the_peak():
    gmacs = Trace(np.array([0.0, 1.0]), np.array([2.0, 1.0]), column="gmacs")  # peak 4
    assert dilate(gmacs._integral, 0.0, 0.5, to_fraction=1 / 4) == pytest.approx(1.0)


def test_dilated_clock_measures_everything_between_readings():
    now = [0.0]
    clock = DilatedClock(TRACE._integral, timer=lambda: now[0])

    def work(seconds):
        now[0] += seconds
        return "out"

    assert clock.run(lambda: work(0.5)) == (pytest.approx(0.5), "out")
    now[0] += 0.25  # a decision between steps counts too
    end, _ = clock.run(lambda: work(0.25))
    assert end == pytest.approx(1.0)
    assert clock.wait_until(2.0) == 2.0 and clock.now() == 2.0
    now[0] += 100.0  # waiting for a frame costs nothing on the virtual clock
    clock.wait_until(1.0)
    assert clock.now() == 2.0
    assert clock.run(lambda: work(0.25))[0] == pytest.approx(3.0)


def test_busy_share_is_one_minus_the_budget_clamped():
    times, budgets = [0.0, 1.0, 2.0], [0.25, 1.0, 0.0]
    assert busy_share(times, budgets, 0.5) == 0.75
    assert busy_share(times, budgets, 1.0) == 0.0
    assert busy_share(times, budgets, 9.0) == 1.0


class FakeTime:
    """A clock that moves 1 µs per reading; sleeping moves it by the delay."""

    def __init__(self):
        self.t, self.busy, self.sleeps = 0.0, 0.0, 0

    def clock(self):
        self.t += 1e-6
        self.busy += 1e-6
        return self.t

    def sleep(self, delay):
        self.t += delay
        self.sleeps += 1


def test_duty_cycle_spins_one_minus_budget_of_each_period_then_stays_away():
    fake = FakeTime()
    spun = duty_cycle([0.0, 0.01], [0.25, 1.0], 0.0, 0.02, 0.001, fake.clock, fake.sleep)
    assert spun == 10  # periods of the budget-0.25 stretch only
    assert fake.busy == pytest.approx(10 * 0.75e-3, rel=0.02)
    assert fake.sleeps <= 12  # full budget: one sleep to the end, not one per period
    assert fake.t == pytest.approx(0.02, abs=2e-5)


def test_the_spin_is_shortened_by_the_measured_overhead_but_a_whole_period_stays_whole():
    assert busy_seconds(0.5, 1e-3) == pytest.approx(0.5e-3)
    assert busy_seconds(0.5, 1e-3, 2e-5) == pytest.approx(0.48e-3)
    assert busy_seconds(0.01, 1e-3, 2e-5) == 0.0
    assert busy_seconds(1.0, 1e-3, 2e-5) == 1e-3
    fake = FakeTime()
    duty_cycle([0.0], [0.5], 0.0, 0.01, 0.001, fake.clock, fake.sleep, overhead_s=1e-4)
    assert fake.busy == pytest.approx(10 * 0.4e-3, rel=0.03)
