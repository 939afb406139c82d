"""How often the simulator agrees with itself, job by job: the ceiling of per-job agreement.

The latency cost model draws every step's execution time from its measured variability
(:class:`testbed.sim.latency.Draws`); a real run draws its own. Were the model exactly
right, a real run would agree with the simulation job by job about as often as two
simulations of the same frames and budget with independent draws agree with each other,
and that is not always: a job whose step ends close to its deadline, or close to where a
policy decides, goes one way or the other with the draw. :func:`self_agreement` measures
it: the same simulation rerun on :data:`REDRAWS` independent execution-time streams, each
compared job by job with the first (:func:`testbed.validate.compare.agreement`), the
median. Where it is under the validation's agreement target
(:data:`testbed.validate.compare.TARGET_AGREEMENT`) the target cannot be expected to hold
whatever the model's accuracy; the scenario's deadline sits where the steps' own spread
decides the jobs (found on the AVX2 host's model: 54-63% at the 0.68 ms deadline).
Without variability (another cost model, ``dist: none``) the simulator is deterministic
and agrees with itself on every job.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..sim.records import JobRecord
from .compare import TARGET_AGREEMENT, agreement

REDRAWS = 3  # independent execution-time streams a ceiling is the median over


def has_variability(scenario) -> bool:
    """Whether the scenario's simulation draws execution times (else it agrees with
    itself on every job)."""
    latency = getattr(scenario.platform, "latency", None)
    return (scenario.cost_model == "latency" and latency is not None
            and latency.variability.dist != "none")


def self_agreement(reference: Sequence[JobRecord],
                   redrawn: Callable[[int], Sequence[JobRecord]],
                   redraws: int = REDRAWS) -> float | None:
    """Median per-job agreement of ``reference`` with ``redrawn(r)``, r = 1..redraws: the
    same simulation on independent execution-time streams."""
    values = [agreement(reference, redrawn(r)) for r in range(1, redraws + 1)]
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def scenario_ceilings(scenario, redraws: int = REDRAWS, base=None) -> dict[str, float] | None:
    """Per system: the self-agreement of the scenario's own (fluid) simulation (``base``:
    that simulation if already run); None when it has no execution-time variability."""
    if not has_variability(scenario):
        return None
    from ..sim import engine
    if base is None:
        base = engine.simulate(scenario, scenario.seed)
    others = [engine.simulate(scenario, scenario.seed, redraw=r)
              for r in range(1, redraws + 1)]

    def mine(result, name):
        return [rec for rec in result.records if rec.system == name]

    return {name: self_agreement(mine(base, name), lambda r: mine(others[r - 1], name),
                                 redraws)
            for name in base.systems}


def warnings(ceilings: dict[str, float | None] | None) -> list[str]:
    """One line per system whose ceiling is under the agreement target."""
    out = []
    for name, value in (ceilings or {}).items():
        if value is not None and value < TARGET_AGREEMENT:
            out.append(f"{name}: the simulator agrees with itself on only {100 * value:.1f}% "
                       f"of jobs (independent execution-time draws, median of {REDRAWS}), "
                       f"under the {100 * TARGET_AGREEMENT:g}% per-job agreement target: no "
                       "real run can be expected to meet it here (its jobs end where the "
                       "steps' own spread decides them; `testbed validate --dry-run` shows "
                       "this for other settings, e.g. another deadline, without running "
                       "anything)")
    return out
