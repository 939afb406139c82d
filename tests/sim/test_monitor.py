"""The budget monitor: its closed-form catch-up equals sampling one sample at a time."""

import math
import random

import pytest

from testbed.sim.faults import Signal
from testbed.sim.monitor import Monitor, distorted_signal, true_signal
from testbed.sim.trace import Trace


def sample_by_sample(trace: Trace, period: float, alpha: float, t: float, view=None):
    """The definition: samples at 0, p, 2p, ... <= t, folded one by one."""
    value_at = (view or true_signal(trace._integral, 1.0))[0]
    estimate, now, i = 1.0, 1.0, 0
    while i * period <= t:
        now = value_at(i * period)
        estimate += alpha * (now - estimate)
        i += 1
    return estimate, now


def random_trace(rng: random.Random, after: str = "hold") -> Trace:
    times = [0.0]
    for _ in range(rng.randint(1, 12)):
        times.append(times[-1] + rng.choice([0.0004, 0.0013, 0.002, 0.0071, 0.03]))
    return Trace(times, [rng.choice([0.0, 0.2, 0.55, 1.0]) for _ in times], after=after)


@pytest.mark.parametrize("seed", range(30))
def test_closed_form_catch_up_equals_sampling_one_by_one(seed):
    rng = random.Random(seed)
    trace = random_trace(rng, rng.choice(["hold", "repeat"]))
    period, alpha = rng.choice([0.001, 0.0005, 0.003]), rng.choice([0.01, 0.3, 1.0])
    monitor = Monitor(period, alpha, true_signal(trace._integral, 1.0))
    t = 0.0
    for _ in range(20):
        t += rng.choice([0.0, 0.0002, 0.001, 0.0049, 0.02])
        estimate, now = monitor.read(t)
        want = sample_by_sample(trace, period, alpha, t)
        assert estimate == pytest.approx(want[0], abs=1e-9)
        assert now == want[1]


def test_the_reading_changes_only_at_sample_times_after_a_budget_change():
    trace = Trace([0.0, 0.0105], [1.0, 0.4])
    monitor = Monitor(0.001, 1.0, true_signal(trace._integral, 1.0))
    assert monitor.read(0.0109) == (1.0, 1.0)      # the 10 ms sample still saw 1.0
    assert monitor.next_reading(0.005) == pytest.approx(0.011)
    assert monitor.read(0.011) == (0.4, 0.4)
    assert monitor.next_reading(0.011) == math.inf  # holding: never again


def test_a_distorted_signal_is_scaled_and_late():
    trace = Trace([0.0, 0.010], [1.0, 0.5])
    signal = Signal(times=(0.0, 0.1), factors=(0.8, 0.8), delay_s=0.005)
    view = distorted_signal(trace._integral, 1.0, signal)
    monitor = Monitor(0.001, 1.0, view)
    assert monitor.read(0.014)[1] == pytest.approx(0.8)        # reads the budget of 9 ms ago
    assert monitor.read(0.016)[1] == pytest.approx(0.4)        # 11 ms ago: 0.5 x 0.8
    assert monitor.read(0.02) == pytest.approx(sample_by_sample(trace, 0.001, 1.0, 0.02, view))
