"""Run a sweep: validate every point before anything runs, skip points already in the
store, map the rest over an executor with a progress bar, append each point's rows as
it finishes, record failures with their parameters, then write the table and report.

A point counts as done only if its rows were computed from the same inputs: every row
carries a fingerprint of the base scenario file, each system's bundle manifest (which
holds its stage and eval checksums) and profile, the other files the scenario names (a
platform file and its latency samples, a budget trace, a task set's execution samples:
:func:`scenario_files`), and the revision of the metrics' definitions
(:data:`testbed.report.metrics.REVISION`). Rows from other inputs (a retrained bundle,
an edited scenario or platform file, a newer metric) are discarded and rerun.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import TestbedError
from ..report import metrics
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
    stale: int = 0          # rows from other inputs, discarded


def validate(spec: SweepSpec, duration_s: float | None) -> set[Path]:
    """Load every point's scenario: a bad override path or value fails before any run.
    Returns the files the points read besides the base scenario (for the fingerprint)."""
    files = set()
    for point in spec.points():
        try:
            scenario = load_point(str(spec.base), point, duration_s)
        except TestbedError as exc:
            raise TestbedError(f"{spec.path}: grid point {point.index} {point.params}: {exc}") from None
        files.update(scenario_files(scenario))
    return files


def scenario_files(scenario) -> set[Path]:
    """The files a loaded scenario read besides itself, resolved as the loader resolves
    them: each bundle's manifest and profile (a system's and each of its classes' own),
    the platform file (``platform: {file}``, relative to the scenario) and the latency
    samples file (relative to the YAML file that names it), a budget trace CSV
    (``budget: {kind: trace, file}``) and a task set's execution-time samples CSVs."""
    from ..sim.budgets import FixedTrace
    from ..sim.rt.tasks import Samples, TaskSet
    base = scenario.path.parent
    files = set()
    for system in scenario.systems:
        for model in (system.model, *(c.model for c in system.classes)):
            files.update(model / name for name in ("manifest.json", "profile.json"))
    files.update(_platform_files(scenario.raw.get("platform"), base, scenario.platform))
    budget = scenario.budget
    if isinstance(budget, FixedTrace):
        files.add(Path(budget.file))
    elif isinstance(budget, TaskSet):
        files.update(base / task.execution.file for task in budget.tasks
                     if isinstance(task.execution, Samples))
    return files


def _platform_files(raw: object, base: Path, platform) -> set[Path]:
    """The platform file a scenario's ``platform:`` names and the samples file of its
    latency model; mirrors :func:`testbed.sim.platform.load_platform`: the samples file
    is relative to the platform file, unless the scenario names its own."""
    files, samples_base = set(), base
    if isinstance(raw, dict) and isinstance(raw.get("file"), str):
        path = base / raw["file"]
        files.add(path)
        latency = raw.get("latency")
        own = latency.get("variability") if isinstance(latency, dict) else None
        if not (isinstance(own, dict) and "file" in own):
            samples_base = path.parent
    latency = platform.latency
    if latency is not None and latency.variability.file is not None:
        files.add(samples_base / latency.variability.file)
    return files


def run_sweep(spec: SweepSpec, out: Path, executor: str = "local", workers: int | None = None,
              address: str | None = None, duration_s: float | None = None,
              progress: bool = True) -> SweepOutcome:
    run = EXECUTORS.get(executor, where="--executor")
    duration_s = duration_s if duration_s is not None else spec.duration_s
    inputs = inputs_fingerprint(spec, duration_s, validate(spec, duration_s))
    store = Store(out)
    stale = store.drop_stale(inputs)
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
            store.append([{**row, "inputs": inputs} for row in result])
    rows = sorted(store.rows(), key=lambda r: (r["point"], r["system"]))
    return SweepOutcome(len(spec.points()), len(spec.points()) - len(todo), len(todo) - len(failed),
                        failed, rows, stale)


def inputs_fingerprint(spec: SweepSpec, duration_s: float | None, files: set[Path]) -> str:
    """What a point's rows depend on besides its parameters (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"metrics revision {metrics.REVISION}\n".encode())
    h.update(Path(spec.base).read_bytes())
    h.update(repr(duration_s).encode())
    for path in sorted(files, key=str):
        h.update(str(path).encode())
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()[:16]


def _progress(items, total: int, enabled: bool):
    if not enabled or total == 0:
        yield from items
        return
    from tqdm import tqdm
    yield from tqdm(items, total=total, desc="sweep", unit="point", file=sys.stderr)
