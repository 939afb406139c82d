"""The simulator: (scenario, bundles, seed) -> per-job records and per-step events.

Sits between :mod:`testbed.scenario` (validated input) and :mod:`testbed.report` (metrics
over the records). Every system runs on its own platform instance under the same budget
trace and the same frames (DESIGN.md §5), one system after the other, each in its own
SimPy environment with one process (:mod:`testbed.sim.processor`: one timeout per job);
when a step ends is computed analytically by :mod:`testbed.sim.trace`. Records stream to
``on_record``/``on_event`` as jobs end (per system, in the order jobs end), so a long run
need not keep them (``keep=False``: memory stays flat with duration; ``keep_events=False``
keeps the records but not the stage events, which are several per job).

Accounting: ``macs_executed`` counts everything the processor served for a job (a step cut
by the deadline or abandoned counts in proportion to the work it got);
``macs_wasted`` is the part that does not contribute to the emitted result: cut or
abandoned steps and, for non-incremental bundles, completed subnets superseded by a later
one. A job whose frame waits for a higher-priority frame is stopped at a step boundary and
emits what it has.

Faults (a scenario's ``faults:`` section, :mod:`testbed.sim.faults`) are drawn once per
seed: stalls are already in the trace every system sees, drop-outs, bursts and stage
failures in the frames, and the mis-estimated budget signal is handed to each processor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import simpy

from .faults import FaultPlan, plan, stall_trace
from .outcomes import replay_outcomes
from .processor import Processor, Sink
from .records import JobRecord, StageEvent
from .rt.engine import simulate_system
from .rt.tasks import TaskSet
from .seeds import component_rng
from .trace import Trace
from .workload import Frame, frames


@dataclass
class SimResult:
    systems: tuple[str, ...]         # names, in scenario order
    seed: int
    trace: Trace                     # the budget every system saw
    records: list[JobRecord] = field(default_factory=list)  # by system, then job_id
    events: list[StageEvent] = field(default_factory=list)  # by system, then time
    live_agreement: dict[str, float] = field(default_factory=dict)  # live mode: vs eval.npz
    tasks: dict[str, dict] = field(default_factory=dict)  # task sets: {system: {task: stats}}


def make_trace(scenario, seed: int | None = None) -> Trace:
    """The budget trace of one run (generated from ``seed``, or the scenario's file),
    with the run's processor stalls in it."""
    seed = scenario.seed if seed is None else seed
    trace = scenario.budget.generate(component_rng(seed, "budget"), scenario.horizon_s)
    return stall_trace(trace, fault_plan(scenario, seed).stalls, scenario.horizon_s)


def fault_plan(scenario, seed: int) -> FaultPlan:
    """The faults of run ``seed`` (none without a ``faults:`` section)."""
    return plan(getattr(scenario, "faults", None), seed, scenario.horizon_s,
                [c.name for c in scenario.workload])


def simulate(scenario, seed: int | None = None, *, live=None,
             on_record: Sink | None = None, on_event: Sink | None = None,
             keep: bool = True, keep_events: bool | None = None, redraw: int = 0) -> SimResult:
    """Run every system of ``scenario``; ``live``: a :class:`~testbed.sim.live.LiveRunner`
    to classify the real images instead of replaying ``eval.npz``. ``keep_events``
    (default: as ``keep``) says whether ``result.events`` collects the stage events.
    ``redraw`` > 0: the same run with independent execution-time draws (the latency cost
    model's variability, :class:`~testbed.sim.latency.Draws`; share-budget systems only)."""
    seed = scenario.seed if seed is None else seed
    result = SimResult(tuple(s.name for s in scenario.systems), seed, make_trace(scenario, seed))
    emit_record = _fanout(result.records.append if keep else None, on_record)
    keep_events = keep if keep_events is None else keep_events
    emit_event = _fanout(result.events.append if keep_events else None, on_event)
    faults = fault_plan(scenario, seed)
    replays: dict[int, object] = {}  # one replay per bundle, however many systems drive it
    for spec in scenario.systems:
        outcomes = replays.get(id(spec.bundle))
        if outcomes is None:
            outcomes = replays[id(spec.bundle)] = replay_outcomes(spec.bundle)
        if live is not None:
            used = sorted({f.sample_id for f in _frames(scenario, seed, faults)})
            outcomes, result.live_agreement[spec.name] = live.outcomes(spec.bundle, used)
        if isinstance(scenario.budget, TaskSet):  # issue 20: a scheduler, not a share
            result.tasks[spec.name] = simulate_system(
                scenario, spec, seed, _frames(scenario, seed, faults), outcomes, emit_record,
                emit_event)
            continue
        env = simpy.Environment()
        Processor(env, scenario, spec, seed, result.trace, outcomes, emit_record, emit_event,
                  signal=faults.signal, redraw=redraw).start(_frames(scenario, seed, faults))
        env.run()
    if keep:
        order = {name: i for i, name in enumerate(result.systems)}
        result.records.sort(key=lambda r: (order[r.system], r.job_id))
    return result


def _frames(scenario, seed: int, faults: FaultPlan | None = None) -> Iterator[Frame]:
    faults = fault_plan(scenario, seed) if faults is None else faults
    return frames(scenario.workload, seed, scenario.duration_s, scenario.sample_ids, faults)


def _fanout(*sinks: Sink | None) -> Sink | None:
    sinks = tuple(s for s in sinks if s is not None)
    if len(sinks) <= 1:
        return sinks[0] if sinks else None

    def fanout(item: object) -> None:
        for sink in sinks:
            sink(item)
    return fanout
