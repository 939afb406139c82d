"""``testbed validate``: one scenario simulated and run for real on this host, compared.

Sits beside :mod:`testbed.sim.engine` (the simulation of the run) and uses
:mod:`testbed.validate.executor` for the real one: the same seed, budget trace and
frames; every system's jobs run their ONNX stage graphs in ONNX Runtime (one thread) in
this process pinned to one core, with the budget imposed by the co-runner or by time
dilation (:mod:`testbed.validate.mechanism`); the co-runner is first calibrated on each
system's jobs, so that the executor really gets the share the trace says, and the system
is simulated on what the co-runner imposes at its own resolution (each period's spin, then
the rest of the period; the trace's coarser rows are kept as the fluid simulation), and
again at the host's speed measured just before and after its real run (every graph that
much slower: :func:`~testbed.validate.speed.scaled_trace`), which tells a slow hour
from a wrong model, and at the speed the run's own steps showed, window by window
(:func:`~testbed.validate.speed.tracked_speed`), which tells a host whose speed changes
within the run from a wrong model. The
executor is an ordinary process: at real-time priority, it and the co-runner together can
exhaust the kernel's real-time cap (``sched_rt_runtime_us``), which then freezes both for
tens of milliseconds. Systems
whose policy sees the future (bounds, oracles) or abandons a running stage (``restart:
true``, which an ONNX Runtime stage cannot do) are skipped and said so. :mod:`testbed.validate.compare` turns the two
record sets into the figures that :mod:`testbed.validate.report` writes.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..sim.records import JobRecord
from ..steadiness import probe, spells
from . import compare
from .ceiling import has_variability, self_agreement
from .corunner import PERIOD_S, CoRunner, imposed
from .executor import OrtSteps, RealProcessor, StepSample
from .mechanism import DilatedClock, Mechanism, WallClock, choose, detect_fifo
from .speed import scaled_trace, tracked_speed, tracked_trace

CHECK_BUDGET = 0.5   # the co-runner check's constant budget
RIG_ROUNDS = 3       # co-runner checks after the first measurement, at most
RIG_TOLERANCE = 0.02  # |share the job got - budget| the rounds aim for
START_LEAD_S = 0.05  # between giving the co-runner its start instant and that instant


@dataclass
class SystemRun:
    name: str
    sim: list[JobRecord]
    real: list[JobRecord]
    samples: list[StepSample]
    work_s: tuple[float, ...]
    wall_s: float
    policy: dict = field(default_factory=dict)   # name and params, as metrics.json has them
    fluid: list[JobRecord] | None = None  # co-runner: the simulation on the trace's own rows
    check: dict | None = None   # co-runner: its calibration on this system's jobs
    repeat: int = 1             # which of the validation's repeats (1-based)
    host_speed: dict | None = None  # jobs alone just before and just after, against the model
    scaled: list[JobRecord] | None = None  # the simulation at the measured host speed
    tracked_speed: dict | None = None  # the host's speed through the run (speed.spells)
    tracked: list[JobRecord] | None = None  # the simulation at that speed, window by window
    self_agreement: float | None = None  # the simulation against itself redrawn (ceiling.py)


@dataclass
class Validation:
    scenario: object
    mechanism: Mechanism
    core: int | None
    period_s: float
    idle: str = "spin"           # how the wall-clock executor waits for a frame
    runs: list[SystemRun] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    tuning: dict = field(default_factory=dict)
    min_budget: float = 1.0
    timer: Callable[[], float] = time.thread_time  # the dilated clock's
    trace: object = None         # the run's budget trace (testbed.sim.trace.Trace)
    check: dict | None = None    # the first system's co-runner calibration
    overhead_s: float | None = None  # each co-runner spin's shortening (None: measure it
    #                                  on each system's jobs, calibrate_corunner)
    probe: dict = field(default_factory=dict)  # the core's steadiness before/after the runs

    def by_system(self) -> dict[str, list[SystemRun]]:
        """Every system's runs, one per repeat, in scenario order."""
        out: dict[str, list[SystemRun]] = {}
        for run in self.runs:
            out.setdefault(run.name, []).append(run)
        return out

    def figures(self) -> dict[str, dict]:
        """Per system: the figures of its median repeat (by per-job agreement), the
        ``repeats`` in brief, and ``met``: the target held in most repeats."""
        out = {}
        for name, runs in self.by_system().items():
            each = [_figures(run) for run in runs]
            x = each[_median_index([f["agreement"] or 0.0 for f in each])]
            x["repeats"] = [{"repeat": f["repeat"], "real": f["real"],
                             "difference": f["difference"], "agreement": f["agreement"],
                             "met": f["met"], "self_agreement": f.get("self_agreement"),
                             "corunner": _brief(f.get("corunner")),
                             "rig_held": rig_held(f.get("corunner")),
                             "host_speed": (f.get("host_speed") or {}).get("ratio"),
                             "host_speed_before": (f.get("host_speed") or {}).get("before"),
                             "host_speed_after": (f.get("host_speed") or {}).get("after"),
                             "scaled": _brief_scaled(f.get("scaled")),
                             "tracked": _brief_scaled(f.get("tracked"))}
                            for f in each]
            x["met_repeat"] = x["met"]
            x["met_repeats"] = sum(f["met"] for f in each)
            x["met"] = 2 * x["met_repeats"] > len(each)
            held = [f for f in each if rig_held(f.get("corunner"))]
            if all(f.get("corunner") for f in each):
                x["rig_held_repeats"] = len(held)
                x["met_rig_held_repeats"] = sum(f["met"] for f in held)
            for kind in ("scaled", "tracked"):
                if all(f.get(kind) for f in each):
                    x[f"met_{kind}_repeats"] = sum(f[kind]["met"] for f in each)
                    x[f"met_{kind}"] = 2 * x[f"met_{kind}_repeats"] > len(each)
            out[name] = x
        return out

    def representative(self) -> list[SystemRun]:
        """Each system's median repeat (the one :meth:`figures` reports in full)."""
        picked = []
        for runs in self.by_system().values():
            agree = [compare.agreement(r.sim, r.real) or 0.0 for r in runs]
            picked.append(runs[_median_index(agree)])
        return picked


def _figures(run: SystemRun) -> dict:
    x = compare.compare(run.sim, run.real)
    x["repeat"] = run.repeat
    x["steps"] = compare.step_costs(run.samples, run.work_s)
    x["real_wall_s"] = run.wall_s
    x["policy"] = run.policy
    x["self_agreement"] = run.self_agreement
    if run.check is not None:
        x["corunner"] = run.check
    if run.host_speed is not None:
        x["host_speed"] = run.host_speed
    if run.scaled is not None:
        scaled = compare.compare(run.scaled, run.real)
        x["scaled"] = {"speed": run.host_speed["ratio"], "sim": scaled["sim"],
                       "difference": scaled["difference"], "agreement": scaled["agreement"],
                       "met": scaled["met"]}
    if run.tracked is not None:
        tracked = compare.compare(run.tracked, run.real)
        x["tracked"] = {"speed": run.tracked_speed, "sim": tracked["sim"],
                        "difference": tracked["difference"],
                        "agreement": tracked["agreement"], "met": tracked["met"]}
    if run.fluid is not None:
        x["sim_fluid"] = compare.side(run.fluid)
        x["fluid_difference"] = compare.difference(x["sim"], x["sim_fluid"])
    return x


def _median_index(values: list[float]) -> int:
    """The index of the median value (the lower one of an even count)."""
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    return order[(len(order) - 1) // 2]


def _brief_scaled(scaled: dict | None) -> dict | None:
    if scaled is None:
        return None
    return {"speed": scaled["speed"], "difference": scaled["difference"],
            "agreement": scaled["agreement"], "met": scaled["met"]}


def rig_held(check: dict | None) -> bool | None:
    """The co-runner's last check left the job its budget within :data:`RIG_TOLERANCE`
    (None: no co-runner). Where it did not, the budget imposed during the run was not the
    trace's either, and the repeat says more about the rig than about the model."""
    if check is None:
        return None
    return abs(check["after"]["effective_budget"] - check["budget"]) <= RIG_TOLERANCE


def _brief(check: dict | None) -> dict | None:
    if check is None:
        return None
    return {"overhead_us": check["overhead_us"],
            "effective_before": check["before"]["effective_budget"],
            "effective_after": check["after"]["effective_budget"]}


def skip_reason(spec) -> str | None:
    """Why a system cannot be run for real (None: it can)."""
    policy = spec.policy
    if spec.bound_of is not None or policy.needs_foresight:
        return "its policy sees the future (a bound): nothing real can run it"
    if policy.watches_budget:
        return ("its policy abandons a running step when the budget changes (restart: "
                "true); an ONNX Runtime stage cannot be interrupted")
    return None


def pick_core(core: int | None) -> int | None:
    """The core to pin to: ``core`` if allowed, else the last one this process may use
    (None where the OS cannot pin)."""
    from ..errors import TestbedError
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if core is None:
        return allowed[-1]
    if core not in allowed:
        raise TestbedError(f"--core: expected one of the cores this process may use "
                           f"({', '.join(map(str, allowed))}), got {core}")
    return core


def validate(scenario, *, mechanism: str = "auto", detector=detect_fifo,
             steps_for: Callable | None = None, live=None, core: int | None = None,
             period_s: float = PERIOD_S, idle: str = "spin", progress: bool = False,
             timer: Callable[[], float] = time.thread_time,
             overhead_us: float | None = None, repeats: int = 1,
             probe_s: float = 0.0) -> Validation:
    """Simulate ``scenario`` (its seed) and run it for real; ``steps_for(bundle,
    outcomes)`` makes what runs a step (default: :class:`OrtSteps`), ``live`` a
    :class:`~testbed.sim.live.LiveRunner` for the real images; ``timer`` is what the
    dilated clock measures durations with; ``overhead_us``: what each co-runner spin
    leaves out (None: measured, :func:`calibrate_corunner`); ``repeats``: how many times
    every system runs for real (all systems once, then again: a slow spell of the host
    does not fall on one system only); ``probe_s``: how long to watch the core's
    steadiness before and after the runs (:func:`testbed.steadiness.probe`; 0:
    not at all)."""
    from ..sim import engine, workload
    check_budget(scenario)
    chosen, pinned = choose(mechanism, detector), pick_core(core)
    scenario, tuning = tuned(scenario)
    result = Validation(scenario, chosen, pinned, period_s, idle, tuning=tuning, timer=timer,
                        overhead_s=None if overhead_us is None else overhead_us / 1e6)
    keep = [spec for spec in scenario.systems if not _skipped(spec, result.skipped)]
    sim = engine.simulate(scenario, scenario.seed, live=live)
    frames = list(workload.frames(scenario.workload, scenario.seed, scenario.duration_s,
                                  scenario.sample_ids, engine.fault_plan(scenario,
                                                                         scenario.seed)))
    result.min_budget, result.trace = _min_budget(sim.trace, scenario), sim.trace
    if probe_s > 0:
        with _pinned(pinned):
            result.probe["before"] = probe(probe_s)
    bar = _bar(len(frames) * len(keep) * repeats, progress)
    try:
        for repeat in range(1, repeats + 1):
            for spec in keep:
                fluid = [r for r in sim.records if r.system == spec.name]
                run = _run_system(scenario, spec, sim.trace, frames, fluid, result,
                                  steps_for, live, bar.update)
                run.repeat = repeat
                result.runs.append(run)
    finally:
        bar.close()
    if probe_s > 0:
        with _pinned(pinned):
            result.probe["after"] = probe(probe_s)
    return result


def imposed_trace(trace, scenario, period_s: float, overhead_s: float = 0.0):
    """The budget the co-runner imposes, at its own resolution (every period's spin as a
    stretch of budget 0: :func:`testbed.validate.corunner.imposed`), in ``trace``'s
    units. The co-runner run is simulated on it, with the policies' monitor reading
    ``trace`` itself, as they do for real."""
    from ..sim.trace import Trace
    to_fraction = 1.0 if trace.column == "budget" else 1.0 / scenario.platform.peak_gmacs
    times, budgets = _fractions(trace, to_fraction, scenario.horizon_s)
    t, v = imposed(times, budgets, scenario.horizon_s, period_s, overhead_s)
    return Trace(t, [x / to_fraction for x in v], trace.column)


def _simulate(scenario, spec, served, sensed, frames, outcomes, redraw: int = 0
              ) -> list[JobRecord]:
    """One system simulated with ``served`` serving its jobs and ``sensed`` read by its
    monitor (:func:`imposed_trace`); ``redraw`` > 0: on independent execution-time draws."""
    records: list[JobRecord] = []
    env = _view(scenario, spec, served, sensed, outcomes, records.append, redraw)
    env.start(iter(frames))
    env.env.run()
    return records


def check_budget(scenario) -> None:
    from ..errors import ConfigError
    budget = scenario.raw.get("budget")
    kind = budget.get("kind") if isinstance(budget, dict) else None
    if kind == "tasks":
        raise ConfigError(scenario.path, "budget.kind", "a budget trace (validate imposes a "
                          "share of the core; a task set is not supported)", kind)


def tuned(scenario):
    """The scenario with its grid and ``auto`` policies tuned (as ``testbed run`` does)."""
    if not any(s.candidates for s in scenario.systems):
        return scenario, {}
    from .. import api
    return api.tune(scenario)


def _skipped(spec, skipped: dict[str, str]) -> bool:
    reason = skip_reason(spec)
    if reason:
        skipped[spec.name] = reason
    return bool(reason)


def _min_budget(trace, scenario) -> float:
    to_fraction = 1.0 if trace.column == "budget" else 1.0 / scenario.platform.peak_gmacs
    return float(trace.value.min()) * to_fraction


def _bar(total: int, enabled: bool):
    import sys

    from tqdm import tqdm
    return tqdm(total=total, unit="frame", desc="validating (real time)", file=sys.stderr,
                disable=None if enabled else True, mininterval=0.5, leave=False)


def _view(scenario, spec, served, sensed, outcomes, emit_record=None, redraw: int = 0):
    """The simulator's processor for ``spec``, served by ``served`` with its monitor on
    ``sensed`` (built; run only by :func:`_simulate`)."""
    import simpy

    from ..sim.engine import fault_plan
    from ..sim.processor import Processor
    faults = fault_plan(scenario, scenario.seed)
    return Processor(simpy.Environment(), scenario, spec, scenario.seed, served, outcomes,
                     emit_record, None, signal=faults.signal,
                     sensed=None if sensed is served else sensed, redraw=redraw)


def _outcomes(spec, frames, live):
    from ..sim.outcomes import replay_outcomes
    if live is None:
        return replay_outcomes(spec.bundle)
    return live.outcomes(spec.bundle, sorted({f.sample_id for f in frames}))[0]


def _run_system(scenario, spec, trace, frames, fluid, result: Validation, steps_for, live,
                tick) -> SystemRun:
    """Calibrate the co-runner on this system's jobs (:func:`calibrate_corunner`),
    simulate the system on what the co-runner then imposes (:func:`imposed_trace`; under
    dilation: the trace itself, ``fluid``) and run it for real."""
    outcomes = _outcomes(spec, frames, live)
    if steps_for is not None:
        steps = steps_for(spec.bundle, outcomes)
    else:
        pixels = None if live is None else live.images(spec.bundle)
        steps = OrtSteps(spec.bundle, pixels, _pixel_rows(spec.bundle) if live else None)
    with _pinned(result.core):
        steps.warm()
        check, overhead_s, served = None, 0.0, trace
        if result.mechanism.name == "corunner":
            check = calibrate_corunner(result.core, result.period_s, steps,
                                       spec.bundle.manifest.num_stages, result.overhead_s)
            result.check = result.check or check
            overhead_s = check["overhead_us"] / 1e6
            served = imposed_trace(trace, scenario, result.period_s, overhead_s)
        sim = fluid if served is trace else _simulate(scenario, spec, served, trace, frames,
                                                     outcomes)
        view = _view(scenario, spec, served, trace, outcomes)
        timer = result.timer if result.mechanism.name == "dilation" else time.perf_counter
        before = host_speed(steps, view, scenario, timer)
        start = time.perf_counter()
        real, samples = _execute(scenario, view, trace, frames, steps, result, overhead_s,
                                 tick)
        wall = time.perf_counter() - start
        speed = _both(before, host_speed(steps, view, scenario, timer))
    ceiling = None if not has_variability(scenario) else self_agreement(
        sim, lambda r: _simulate(scenario, spec, served, trace, frames, outcomes, r))
    scaled = None if speed["ratio"] is None else _simulate(
        scenario, spec, scaled_trace(served, speed["ratio"]), trace, frames, outcomes)
    edges, ratios = tracked_speed(samples, view.work_s, scenario.horizon_s,
                                  _job_start(scenario),
                                  later_s=_job_start(scenario, later=True)
                                  if view.incremental else None)
    at_speed = tracked_trace(served, edges, ratios, scenario.horizon_s)
    tracked = _simulate(scenario, spec, at_speed, trace, frames, outcomes)
    return SystemRun(spec.name, sim, real, samples, tuple(view.work_s), wall,
                     _policy(spec.policy), None if served is trace else fluid, check,
                     host_speed=speed, scaled=scaled, tracked_speed=spells(ratios),
                     tracked=tracked, self_agreement=ceiling)


def _job_start(scenario, later: bool = False) -> Callable[[float], float] | None:
    """The latency model's ``job_start`` (``later``: ``later_start``) in seconds at full
    budget, by the idle gap before a job (None: the cost model has none)."""
    from ..sim.latency import start_ms
    platform = scenario.platform
    if scenario.cost_model != "latency" or platform.latency is None:
        return None
    return lambda gap_s: start_ms(platform.latency, gap_s, platform.peak_gmacs,
                                  later=later) / 1e3


SPEED_RUNS = 200  # jobs timed alone for host_speed


def host_speed(steps, view, scenario, timer: Callable[[], float] = time.perf_counter) -> dict:
    """How fast this host runs the system's graphs right now against the cost model:
    the median time of a whole job (every step in a row, jobs 1 ms apart, as
    :func:`corunner_check` times them; measured with ``timer``) over the model's time for
    the same (the steps' medians at full budget without the per-step executor overhead,
    plus the job start after a 1 ms gap, and for an incremental bundle its later graphs'
    ``later_start``). Above 1: slower than calibrated; the
    calibration is a snapshot and this host's speed drifts (README, "How far can you
    trust it")."""
    from ..sim.latency import start_ms
    k = len(view.work_s)
    platform = scenario.platform
    model = sum(view.work_s) - k * platform.stage_overhead_ms / 1e3
    if scenario.cost_model == "latency" and platform.latency is not None:
        model += start_ms(platform.latency, GAP_S, platform.peak_gmacs) / 1e3
        if view.incremental:
            model += (k - 1) * start_ms(platform.latency, GAP_S, platform.peak_gmacs,
                                        later=True) / 1e3
    alone = _timed_runs(steps, k, SPEED_RUNS, GAP_S, median=True, timer=timer)
    return {"job_ms": alone * 1e3, "model_ms": model * 1e3,
            "ratio": alone / model if model > 0 else None}


def _both(before: dict, after: dict) -> dict:
    """The host's speed over a run: the geometric mean of the ratios measured just
    before and just after it (``before`` and ``after`` kept)."""
    a, b = before["ratio"], after["ratio"]
    ratio = None if a is None or b is None or a <= 0 or b <= 0 else float(np.sqrt(a * b))
    return {"job_ms": before["job_ms"], "model_ms": before["model_ms"], "ratio": ratio,
            "before": before["ratio"], "after": after["ratio"]}


GAP_S = 0.001  # between timed jobs


def _policy(policy) -> dict:
    import dataclasses

    from ..tuning import policy_name
    return {"name": policy_name(policy), "params": dataclasses.asdict(policy)}


def calibrate_corunner(core: int, period_s: float, steps, num_steps: int,
                       overhead_s: float | None = None) -> dict:
    """Measure what the executor loses to each co-runner interruption (switching, cache
    refill: the executor got ``b - loss / period`` of the core under budget ``b``), so
    that the co-runner spins that much less per period (or by ``overhead_s`` if given);
    then check the share again and, measured, correct the shortening by what is still
    missing, up to :data:`RIG_ROUNDS` times, until the job gets ``b`` within
    :data:`RIG_TOLERANCE`."""
    before, measured = corunner_check(core, period_s, steps, num_steps), overhead_s is None
    budget = before["budget"]
    most = (1.0 - budget) * period_s  # a spin cannot be shorter than nothing
    if measured:
        overhead_s = min(most, max(0.0, budget - before["effective_budget"]) * period_s)
    after = corunner_check(core, period_s, steps, num_steps, overhead_s=overhead_s)
    rounds = [{"overhead_us": overhead_s * 1e6, "effective_budget": after["effective_budget"]}]
    while measured and len(rounds) < RIG_ROUNDS and \
            abs(after["effective_budget"] - budget) > RIG_TOLERANCE:
        overhead_s = min(most, max(0.0, overhead_s + (budget - after["effective_budget"])
                                   * period_s))
        after = corunner_check(core, period_s, steps, num_steps, overhead_s=overhead_s)
        rounds.append({"overhead_us": overhead_s * 1e6,
                       "effective_budget": after["effective_budget"]})
    return {"budget": budget, "runs": before["runs"], "overhead_us": overhead_s * 1e6,
            "measured": measured, "before": before, "after": after, "rounds": rounds}


SEGMENT_S = 0.05      # the check's alternating stretches: co-runner away, then at the budget
SETTLE_S = 0.002      # a job starting this soon after a stretch begins is not counted
CHECK_HORIZON_S = 10.0  # the check gives up collecting jobs after this long


def corunner_check(core: int, period_s: float, steps, num_steps: int,
                   budget: float = CHECK_BUDGET, runs: int = 200,
                   overhead_s: float = 0.0) -> dict:
    """The share of the core a whole job (steps 1..num_steps in a row) really gets under
    the co-runner at a constant ``budget``: its mean time alone over its mean time beside
    the co-runner (jobs 1 ms apart, the executor an ordinary process both times). The
    co-runner alternates every :data:`SEGMENT_S` between staying away and the budget
    (:func:`alternating`), and the share is the median, over each stretch alone and the
    shared one after it, of their mean jobs' ratio: a slow spell of the host lands on both
    of a pair alike, where two measurements one after the other could each catch a
    different speed (on a shared VM the share so measured moved by ±0.1 between checks)."""
    from ..errors import TestbedError
    n = math.ceil(CHECK_HORIZON_S / SEGMENT_S)
    runner = CoRunner(core, [k * SEGMENT_S for k in range(n)],
                      [1.0 if k % 2 == 0 else budget for k in range(n)], period_s, overhead_s)
    try:
        t0 = time.monotonic() + START_LEAD_S
        runner.go(t0, t0 + CHECK_HORIZON_S)
        stretches = alternating(lambda: _job(steps, num_steps), runs, t0, CHECK_HORIZON_S)
    finally:
        runner.proc.terminate()  # it was told to run the whole horizon: never waited for
        runner.stop(1.0)
    pairs = [(np.mean(stretches[k - 1]), np.mean(stretches[k])) for k in stretches
             if k % 2 == 1 and k - 1 in stretches]
    if not pairs:
        raise TestbedError(f"co-runner check: no job of {num_steps} step(s) fitted in a "
                           f"{SEGMENT_S * 1e3:g} ms stretch (jobs too long for the check)")
    alone = [t for k, v in stretches.items() if k % 2 == 0 for t in v]
    shared = [t for k, v in stretches.items() if k % 2 == 1 for t in v]
    return {"budget": budget, "runs": min(len(alone), len(shared)),
            "alone_mean_ms": float(np.mean(alone)) * 1e3,
            "shared_mean_ms": float(np.mean(shared)) * 1e3,
            "effective_budget": float(np.median([a / s for a, s in pairs]))}


def alternating(job: Callable[[], object], runs: int, t0: float, horizon_s: float,
                segment_s: float = SEGMENT_S, settle_s: float = SETTLE_S,
                gap_s: float = GAP_S, clock: Callable[[], float] = time.monotonic
                ) -> dict[int, list[float]]:
    """Run ``job`` every ``gap_s`` from ``t0`` (a ``clock()`` reading) until ``runs`` were
    timed in stretches of each parity or ``horizon_s`` passed: stretch ``k`` (of
    ``segment_s``, from ``t0``) -> the seconds of the jobs that started at least
    ``settle_s`` into it and ended within it."""
    out: dict[int, list[float]] = {}
    count = [0, 0]
    while clock() < t0:
        pass
    while min(count) < runs:
        until = clock() + gap_s
        while clock() < until:
            pass
        start = clock()
        if start - t0 >= horizon_s - segment_s:
            break
        job()
        end = clock()
        k, into = divmod(start - t0, segment_s)
        if into >= settle_s and (end - t0) // segment_s == k:
            out.setdefault(int(k), []).append(end - start)
            count[int(k) % 2] += 1
    return out


def _job(steps, num_steps: int) -> None:
    carry = None
    for k in range(1, num_steps + 1):
        carry = steps.run(k, -1, carry)


def _timed_runs(steps, num_steps: int, runs: int, gap_s: float = GAP_S,
                median: bool = False, timer: Callable[[], float] = time.perf_counter) -> float:
    """Mean (or median) seconds of steps 1..num_steps over ``runs`` jobs ``gap_s`` apart
    (of wall time; each job timed with ``timer``)."""
    times = []
    for _ in range(runs):
        until = time.perf_counter() + gap_s
        while time.perf_counter() < until:
            pass
        start, carry = timer(), None
        for k in range(1, num_steps + 1):
            carry = steps.run(k, -1, carry)
        times.append(timer() - start)
    return float(np.median(times)) if median else sum(times) / runs


def _pixel_rows(bundle) -> dict[int, int]:
    """sample id -> row of the eval split's images (the id is the row: live mode's rule)."""
    return {int(s): int(s) for s in bundle.eval.sample_ids}


def _execute(scenario, view, trace, frames, steps, result: Validation, overhead_s: float,
             tick):
    """Run every frame on the mechanism's clock: (records, step samples). The clock
    starts only once the garbage collector has run (a full collection of the simulated
    records takes long enough to drop the first frames)."""
    horizon = scenario.horizon_s
    if result.mechanism.name == "dilation":
        with _no_gc():
            clock = DilatedClock(view.integral, view.to_fraction, result.timer)
            proc = RealProcessor(view, scenario, clock, steps, tick)
            return proc.run(frames), proc.samples
    times, budgets = _fractions(trace, view.to_fraction, horizon)
    runner = CoRunner(result.core, times, budgets, result.period_s, overhead_s)
    t0 = time.monotonic()
    try:
        with _no_gc():
            t0 = time.monotonic() + START_LEAD_S
            runner.go(t0, t0 + horizon + START_LEAD_S)
            proc = RealProcessor(view, scenario, WallClock(t0, result.idle), steps, tick)
            records = proc.run(frames)
    except BaseException:
        runner.proc.terminate()  # an interrupted run does not wait for the co-runner's end
        raise
    finally:
        runner.stop(max(0.0, t0 + horizon + START_LEAD_S - time.monotonic()) + 2.0)
    return records, proc.samples


def _fractions(trace, to_fraction: float, horizon_s: float) -> tuple[list[float], list[float]]:
    """The trace over the run as (times, fractions of peak), holding after its last row."""
    from ..sim.trace import covering
    rows = covering(trace, horizon_s)
    return rows.time_s.tolist(), [min(1.0, v * to_fraction) for v in rows.value.tolist()]


@contextlib.contextmanager
def _pinned(core: int | None):
    """This process on ``core`` only, for the block (None: as it is)."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def _no_gc():
    """No garbage-collection pause in the timed loop (it would land on some job)."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
