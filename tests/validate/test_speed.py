"""The host's speed through a validation run (testbed.validate.speed): per-window ratios
of served work to the model, and the trace that simulates a system at them."""

import numpy as np
import pytest

from testbed import api
from testbed.sim.trace import Trace
from testbed.validate.executor import StepSample
from testbed.validate import report
from testbed.steadiness import probe, spells
from testbed.validate.speed import sample_ratios, scaled_trace, tracked_speed, tracked_trace
from testbed.validate.validation import validate
from tests.validate.test_validate import ModelTime, raw_scenario, root  # noqa: F401

WORK = (0.001, 0.002)  # model seconds of steps 1 and 2


def sample(job, step, start, served, end=None):
    return StepSample("s", job, step, start, start + served if end is None else end, True,
                      served)


def test_each_window_gets_the_median_ratio_of_the_steps_that_started_in_it():
    samples = [sample(0, 1, 0.001, 0.001), sample(0, 2, 0.002, 0.004),   # 1x, 2x
               sample(1, 1, 0.0065, 0.002),                               # 2x
               sample(2, 1, 0.031, 0.0015), sample(2, 2, 0.033, 0.003)]  # 1.5x, 1.5x
    edges, ratios = tracked_speed(samples, WORK, horizon_s=0.05, window_s=0.01)
    assert edges == pytest.approx([0, 0.01, 0.02, 0.03, 0.04])
    # window 0: median of 1, 2, 2; windows 1-2 hold it; window 3: 1.5; window 4 holds
    assert ratios == pytest.approx([2.0, 2.0, 2.0, 1.5, 1.5])


def test_a_jobs_first_step_is_judged_with_the_models_job_start():
    samples = [sample(0, 1, 0.0, 0.0015), sample(0, 2, 0.0015, 0.002),
               sample(1, 1, 0.0055, 0.0015)]
    start = lambda gap: 0.0005 if gap > 0 else 0.0   # noqa: E731
    # the very first step has no idle gap to go by: its model is the step alone
    assert sample_ratios(samples, WORK, start) == pytest.approx([1.5, 1.0, 1.0])
    assert sample_ratios(samples, WORK) == pytest.approx([1.5, 1.0, 1.5])


def test_no_steps_at_all_is_the_models_speed_and_unserved_steps_do_not_count():
    edges, ratios = tracked_speed([], WORK, 0.03, window_s=0.01)
    assert list(ratios) == [1.0, 1.0, 1.0]
    late = StepSample("s", 0, 1, 0.0, float("inf"), False, float("inf"))
    assert list(tracked_speed([late], WORK, 0.01, window_s=0.01)[1]) == [1.0]


def test_the_tracked_trace_divides_each_window_by_its_ratio():
    trace = Trace([0.0, 0.015], [1.0, 0.5])
    edges, ratios = np.array([0.0, 0.01, 0.02]), np.array([2.0, 1.0, 4.0])
    out = tracked_trace(trace, edges, ratios, 0.03)
    assert list(out.time_s) == pytest.approx([0.0, 0.01, 0.015, 0.02])
    assert list(out.value) == pytest.approx([0.5, 1.0, 0.5, 0.125])
    # a repeating trace is written out over the horizon, not held at its last row
    cycle = Trace([0.0, 0.005, 0.01], [1.0, 0.5, 0.5], after="repeat")
    out = tracked_trace(cycle, edges, ratios, 0.03)
    assert out.value[np.searchsorted(out.time_s, 0.021, side="right") - 1] == \
        pytest.approx(0.25)   # 1.0 at 0.02 (the cycle's start), window ratio 4
    same = scaled_trace(trace, 2.0)
    assert list(same.value) == pytest.approx([0.5, 0.25])


def test_spells_say_how_much_of_the_run_was_slow():
    s = spells(np.array([1.0, 1.0, 2.0, 1.1]), window_s=0.01)
    assert s["window_ms"] == pytest.approx(10)
    assert s["median"] == pytest.approx(1.05) and s["slow_share"] == pytest.approx(0.25)


class SlowSpell(ModelTime):
    """Stages at the model's time, except the frames of one stretch of the run, which
    take twice as long: a slow spell that timing jobs before and after the run misses."""

    def __init__(self, scenario, first: int, last: int):
        super().__init__(scenario)
        self.first, self.last, self.frames = first, last, {}

    def steps_for(self, bundle, outcomes):
        outer, work = self, self.work[id(bundle)]
        seen = self.frames.setdefault(id(bundle), [])

        class Steps:
            def warm(self):
                pass

            def run(self, k, sample_id, carry):
                slow = 1.0
                if sample_id >= 0:   # a frame of the run (timed jobs alone use -1)
                    seen.append(k)
                    slow = 2.0 if outer.first <= len(seen) < outer.last else 1.0
                outer.now += work[k - 1] * slow
                return carry

        return Steps()


def test_a_slow_spell_within_the_run_is_explained_by_the_tracked_speed(root):  # noqa: F811
    raw = raw_scenario()
    raw["platform"]["stage_overhead_ms"] = 0.0   # the fake's steps are all graph
    scenario = api.load(raw, base=root)
    model = SlowSpell(scenario, first=20, last=70)
    v = validate(scenario, mechanism="dilation", steps_for=model.steps_for,
                 timer=model.timer, core=None)
    for name, x in v.figures().items():
        assert x["host_speed"]["ratio"] == pytest.approx(1.0)   # before and after: no spell
        assert x["agreement"] < 0.9 and not x["met"]
        assert x["scaled"]["agreement"] == pytest.approx(x["agreement"])
        tracked = x["tracked"]
        assert tracked["speed"]["slow_share"] > 0.1, name
        assert tracked["speed"]["median"] == pytest.approx(1.0)
        assert tracked["agreement"] >= 0.98 and tracked["met"], name
        assert x["met_tracked"] and x["repeats"][0]["tracked"]["met"]


class SpellClock:
    """A clock on which each timed loop (a pair of readings after the first) takes 1 ms,
    or 2 ms in the windows listed in ``slow`` (10 ms each)."""

    def __init__(self, slow):
        self.t, self.calls, self.slow = 0.0, 0, set(slow)

    def __call__(self):
        self.calls += 1
        if self.calls > 1 and self.calls % 2 == 1:   # the reading after a loop
            self.t += 0.002 if int(self.t / 0.01) in self.slow else 0.001
        return self.t


def test_the_probe_finds_the_slow_windows_against_the_fastest():
    out = probe(seconds=0.1, window_s=0.01, clock=SpellClock(slow={2, 3}))
    assert out["slow_share"] == pytest.approx(0.2) and out["median"] == pytest.approx(1.0)
    assert out["p90"] == pytest.approx(2.0) and out["loops"] > 50
    steady = probe(seconds=0.1, window_s=0.01, clock=SpellClock(slow=()))
    assert steady["slow_share"] == 0 and steady["p90"] == pytest.approx(1.0)


def test_the_report_says_how_steady_the_core_was(root, tmp_path):  # noqa: F811
    scenario = api.load(raw_scenario(), base=root)
    model = ModelTime(scenario)
    v = validate(scenario, mechanism="dilation", steps_for=model.steps_for,
                 timer=model.timer, core=None, probe_s=0.05)
    assert set(v.probe) == {"before", "after"} and v.probe["before"]["loops"] > 0
    doc = report.write(v, tmp_path / "out", "testbed validate tiny.yaml")
    text = (tmp_path / "out" / "report.md").read_text()
    assert doc["probe"] == v.probe and "Host steadiness" in text
    assert "tracked speed" in text and doc["met_tracked"] is True
    from testbed.commands.validate import summary
    lines = summary(doc).splitlines()
    assert any(line.startswith("core steadiness (before: ") for line in lines)
    assert lines[-1].startswith("simulated at the speed the run's own steps showed")


def test_a_latency_model_calibrated_for_another_vector_width_is_flagged():
    from types import SimpleNamespace

    from testbed.sim.latency import LatencyModel

    def scenario(block, cost_model="latency", padded=True):
        return SimpleNamespace(cost_model=cost_model, platform=SimpleNamespace(
            latency=LatencyModel(gmacs=1.0, block=block, padded=padded)))

    [warning] = report.model_warnings(scenario(16), "avx2")
    assert "blocks of 16" in warning and "blocks of 8" in warning and "calibrate" in warning
    assert report.model_warnings(scenario(16), "avx512") == []
    assert report.model_warnings(scenario(8), "avx2") == []
    assert report.model_warnings(scenario(16), None) == []      # unknown CPU: nothing to say
    assert report.model_warnings(scenario(16, padded=False), "avx2") == []  # no padding term
    assert report.model_warnings(scenario(16, cost_model="macs"), "avx2") == []


def test_an_incremental_jobs_later_steps_are_judged_with_later_start():
    samples = [sample(0, 1, 0.0, 0.0015), sample(0, 2, 0.0015, 0.0025),
               sample(1, 1, 0.0055, 0.0015), sample(1, 2, 0.007, 0.0025)]
    start = lambda gap: 0.0005 if gap > 0 else 0.0   # noqa: E731
    later = lambda gap: 0.0005 if gap > 0 else 0.0   # noqa: E731
    # job 1 follows a 1.5 ms gap: both its steps pay for it; job 0 has no gap to go by
    assert sample_ratios(samples, WORK, start, later) == pytest.approx([1.5, 1.25, 1.0, 1.0])


def test_the_host_speed_model_counts_job_start_and_later_start():
    """Whole jobs timed alone against the model: the steps' medians without the executor's
    per-step overhead, plus job_start and, for an incremental bundle, later_start for
    each later step, at the 1 ms gap the timed jobs leave."""
    from types import SimpleNamespace

    from testbed.sim.latency import JobStart, LatencyModel
    from testbed.validate.validation import host_speed
    latency = LatencyModel(gmacs=1.0, job_start=(JobStart(1.0, 100.0),),
                           later_start=(JobStart(1.0, 50.0),))
    scenario = SimpleNamespace(cost_model="latency", platform=SimpleNamespace(
        latency=latency, peak_gmacs=1.0, stage_overhead_ms=0.01))
    clock = {"t": 0.0}

    class Steps:   # every step takes 1 ms on the timer
        def run(self, k, sample_id, carry):
            clock["t"] += 0.001

    for incremental, model_ms in ((True, 3 * 1.0 + 0.1 + 2 * 0.05), (False, 3.1)):
        view = SimpleNamespace(work_s=(0.00101,) * 3, incremental=incremental)
        got = host_speed(Steps(), view, scenario, timer=lambda: clock["t"])
        assert got["model_ms"] == pytest.approx(model_ms)
        assert got["ratio"] == pytest.approx(3.0 / model_ms)
