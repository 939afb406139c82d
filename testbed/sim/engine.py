"""The simulator: (scenario, bundles, seed) -> per-job records and per-step events.

Sits between :mod:`testbed.scenario` (validated input) and :mod:`testbed.report` (metrics
over the records). Every system runs on its own platform instance under the same budget
trace and the same frames (DESIGN.md §5), one system after the other, each in its own
SimPy environment with one process (:mod:`testbed.sim.processor`: one timeout per job or
idle period); when a step ends is computed analytically by :mod:`testbed.sim.trace`.
Records stream to ``on_record``/``on_event`` as jobs end (per system, in the order jobs
end), so a long run need not keep them (``keep=False``: memory stays flat with duration).

Accounting: ``macs_executed`` counts everything the processor served for a job (a step cut
by the deadline or abandoned counts in proportion to the work it got);
``macs_wasted`` is the part that does not contribute to the emitted result: cut or
abandoned steps and, for non-incremental bundles, completed subnets superseded by a later
one. A job whose frame waits for a higher-priority frame is stopped at a step boundary and
emits what it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import simpy

from .outcomes import replay_outcomes
from .processor import Processor, Sink
from .records import JobRecord, StageEvent
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


def make_trace(scenario, seed: int | None = None) -> Trace:
    """The budget trace of one run (generated from ``seed``, or the scenario's file)."""
    seed = scenario.seed if seed is None else seed
    return scenario.budget.generate(component_rng(seed, "budget"), scenario.horizon_s)


def simulate(scenario, seed: int | None = None, *, live=None,
             on_record: Sink | None = None, on_event: Sink | None = None,
             keep: bool = True) -> SimResult:
    """Run every system of ``scenario``; ``live``: a :class:`~testbed.sim.live.LiveRunner`
    to classify the real images instead of replaying ``eval.npz``."""
    seed = scenario.seed if seed is None else seed
    result = SimResult(tuple(s.name for s in scenario.systems), seed, make_trace(scenario, seed))
    emit_record = _fanout(result.records.append if keep else None, on_record)
    emit_event = _fanout(result.events.append if keep else None, on_event)
    for spec in scenario.systems:
        outcomes = replay_outcomes(spec.bundle)
        if live is not None:
            used = sorted({f.sample_id for f in _frames(scenario, seed)})
            outcomes, result.live_agreement[spec.name] = live.outcomes(spec.bundle, used)
        env = simpy.Environment()
        Processor(env, scenario, spec, seed, result.trace, outcomes, emit_record, emit_event
                  ).start(_frames(scenario, seed))
        env.run()
    if keep:
        order = {name: i for i, name in enumerate(result.systems)}
        result.records.sort(key=lambda r: (order[r.system], r.job_id))
    return result


def _frames(scenario, seed: int) -> Iterator[Frame]:
    return frames(scenario.workload, seed, scenario.duration_s, scenario.sample_ids)


def _fanout(*sinks: Sink | None) -> Sink | None:
    sinks = tuple(s for s in sinks if s is not None)
    if len(sinks) <= 1:
        return sinks[0] if sinks else None

    def fanout(item: object) -> None:
        for sink in sinks:
            sink(item)
    return fanout
