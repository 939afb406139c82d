"""Run a sweep: validate every point before anything runs, skip points already in the
store, map the rest over an executor with a progress bar, append each point's rows as
it finishes, record failures with their parameters, then write the table and report.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import TestbedError
from .executors import EXECUTORS
from .point import PointTask, load_point
from .spec import SweepSpec
from .store import Store


@dataclass(frozen=True)
class SweepOutcome:
    total: int
    skipped: int
    ran: int
    failed: list[dict]
    rows: list[dict]


def validate(spec: SweepSpec, duration_s: float | None) -> None:
    """Load every point's scenario: a bad override path or value fails before any run."""
    for point in spec.points():
        try:
            load_point(str(spec.base), point, duration_s)
        except TestbedError as exc:
            raise TestbedError(f"{spec.path}: grid point {point.index} {point.params}: {exc}") from None


def run_sweep(spec: SweepSpec, out: Path, executor: str = "local", workers: int | None = None,
              address: str | None = None, duration_s: float | None = None,
              progress: bool = True) -> SweepOutcome:
    run = EXECUTORS.get(executor, where="--executor")
    duration_s = duration_s if duration_s is not None else spec.duration_s
    validate(spec, duration_s)
    store = Store(out)
    done = store.done_keys()
    todo = [p for p in spec.points() if p.key not in done]
    results = run(PointTask(str(spec.base), duration_s), todo, workers, address) if todo else iter(())
    store.clear_failures()
    failed = []
    for point, result in _progress(results, len(todo), progress):
        if isinstance(result, BaseException):
            failure = {"point": point.index, "point_key": point.key, "params": point.params,
                       "error": f"{type(result).__name__}: {result}"}
            store.fail(failure)
            failed.append(failure)
        else:
            store.append(result)
    rows = sorted(store.rows(), key=lambda r: (r["point"], r["system"]))
    return SweepOutcome(len(spec.points()), len(spec.points()) - len(todo), len(todo) - len(failed),
                        failed, rows)


def _progress(items, total: int, enabled: bool):
    if not enabled or total == 0:
        yield from items
        return
    from tqdm import tqdm
    yield from tqdm(items, total=total, desc="sweep", unit="point", file=sys.stderr)
