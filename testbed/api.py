"""The testbed as a library, for notebooks and scripts: load a scenario, override it, keep
some systems, tune, simulate over seeds, tabulate, write a report folder (docs/api.md).

The top of the pipeline, and what ``testbed run`` is built on (:mod:`testbed.commands.run`
only parses arguments and prints). Reads scenario YAML, or a dict, through
:mod:`testbed.scenario`; tunes with :mod:`testbed.tuning`; simulates with
:mod:`testbed.sim.engine`; folds runs with :mod:`testbed.report.collect`. Nothing here
prints, and only :func:`write_report` writes files (through
:mod:`testbed.report.writers`, atomically). Pipeline modules are imported inside the
functions, so importing this module (and ``testbed --help``) stays fast.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence, Union

from .errors import TestbedError

if TYPE_CHECKING:  # pragma: no cover
    from .report.collect import RunCollector
    from .report.document import Report
    from .report.metrics import SystemSummary
    from .report.writers import JobsCsvWriter
    from .scenario import Scenario

Source = Union[str, os.PathLike, Mapping[str, object]]
"""A scenario: a YAML file, or the same content as a dict (needs ``base``)."""
Overrides = Union[Mapping[str, object], Iterable[str]]
"""``{"workload.camera.deadline_ms": 25}`` or ``["workload.camera.deadline_ms=25"]``."""
Progress = Callable[[], None]
"""Called once per finished step (a tuned system, a simulated seed)."""

JOBS_MODES = ("full", "sample", "none")
"""What :func:`write_report` writes of the job records: ``full``: every row (``jobs.csv``,
or ``jobs.csv.gz`` above :data:`~testbed.report.writers.JOBS_PLAIN_MAX` rows);
``sample``: each system's first :data:`~testbed.report.writers.JOBS_SAMPLE` jobs of the
first seed (``jobs_sample.csv``); ``none``: no jobs file."""
TABLE_METRICS = ("jobs", "hit_rate", "accuracy_at_deadline", "utility", "hit_at_quality",
                 "mean_stages", "wasted_fraction", "energy_j", "latency_final_p95_s")
"""The metrics :func:`table` shows (mean over seeds, and ``<metric>_ci95``)."""
PAIRED_METRICS = ("hit_rate", "accuracy_at_deadline", "utility", "hit_at_quality")
"""The metrics :func:`table` also shows as paired differences to the reference."""


# --- scenarios --------------------------------------------------------------------

def parse_set(text: str) -> tuple[str, object]:
    """``"PATH=VALUE"`` (as ``--set`` takes it) -> ``(PATH, VALUE parsed as YAML)``:
    ``"a.b=1.0"`` -> ``("a.b", 1.0)``, ``"p={name: greedy}"`` -> ``("p", {"name": "greedy"})``."""
    import yaml

    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path or " " in path or not value.strip():
        raise TestbedError(f"--set {text!r}: expected PATH=VALUE, e.g. "
                           "workload.camera.deadline_ms=25 (VALUE is YAML; null for none)")
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TestbedError(f"--set {text!r}: VALUE is not valid YAML ({problem})") from None


def _pairs(overrides: Overrides | None) -> list[tuple[str, object]]:
    """(PATH, value) pairs in the order given (a later pair wins)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    if isinstance(overrides, str):
        overrides = [overrides]
    return [parse_set(text) for text in overrides]


def load(source: Source, *, base: str | os.PathLike | None = None,
         overrides: Overrides | None = None, systems: Sequence[str | int] | None = None,
         seed: int | None = None, duration_s: float | None = None,
         trace: str | os.PathLike | None = None) -> Scenario:
    """Read and validate a scenario, loading every bundle it names.

    ``source``: a YAML file, or a dict of the same keys, whose relative paths (models,
    trace files) resolve against ``base`` (required for a dict). Then, in this order:
    ``overrides`` (as :func:`override`), ``seed`` / ``duration_s`` (replace the
    scenario's), ``trace`` (a budget trace CSV replacing ``budget:``), ``systems`` (as
    :func:`select`). Any problem is a :class:`~testbed.errors.TestbedError` naming the
    file and field."""
    from .scenario import read_yaml, scenario_from_raw

    if isinstance(source, Mapping):
        if base is None:
            raise TestbedError("a scenario given as a dict needs base=FOLDER: its model "
                               "and trace paths resolve against it")
        file, raw = Path(base) / "<dict>", copy.deepcopy(dict(source))
    else:
        file = Path(source)
        raw = read_yaml(file)
    scenario = scenario_from_raw(raw, file, _pairs(overrides), seed=seed,
                                 duration_s=duration_s, trace_path=trace, create=True)
    return scenario if systems is None else select(scenario, systems)


def override(scenario: Scenario, overrides: Overrides) -> Scenario:
    """``scenario`` re-validated with ``overrides`` applied to its YAML (as ``--set``).

    A PATH is dotted: ``platform.peak_gmacs``, ``workload.0.deadline_ms``; list items
    may be named by their ``name`` key too (``systems.static.policy``,
    ``workload.camera.deadline_ms``). Every part must exist but the last, which may also
    add a key the file leaves out (``quality``, a policy parameter); the result is
    validated like the file, so an unknown key or a bad value is an error naming it.
    Apply overrides before :func:`tune` (a tuned setting is not in the YAML)."""
    from .scenario import scenario_from_raw
    return scenario_from_raw(copy.deepcopy(scenario.raw), scenario.path, _pairs(overrides),
                             create=True)


def select(scenario: Scenario, systems: Sequence[str | int]) -> Scenario:
    """``scenario`` with only ``systems`` (names, or indices into its ``systems:`` list),
    in scenario order; bounds (``NAME@budget_oracle``) follow the systems they bound.
    A ``reference`` that is dropped falls back to the first kept system; the quality
    bar stays the whole scenario's, so kept systems' metrics are those of a full run.
    An unknown name is a :class:`~testbed.errors.TestbedError` listing the known ones."""
    from .scenario import select_systems
    return select_systems(scenario, systems)


def with_deadline(scenario: Scenario, deadline_ms: float) -> Scenario:
    """``scenario`` with every job class's ``deadline_ms`` set to ``deadline_ms``."""
    return override(scenario, {f"workload.{i}.deadline_ms": deadline_ms
                               for i in range(len(scenario.workload))})


def evaluation_seeds(scenario: Scenario, n: int | None = None) -> tuple[int, ...]:
    """``seed, seed + 1, ...``: ``n`` seeds (default the scenario's ``seeds``)."""
    return tuple(range(scenario.seed, scenario.seed + (n or scenario.seeds)))


# --- tuning and simulation -------------------------------------------------------

def tune(scenario: Scenario, *, progress: Progress | None = None
         ) -> tuple[Scenario, dict[str, dict]]:
    """Choose the setting of every system whose policy is a grid or ``auto``, on the
    scenario's tuning seeds (disjoint from evaluation seeds; :mod:`testbed.tuning`).
    Returns the scenario with the chosen settings and ``{system: what tuning tried}``;
    ``progress`` is called once per tuned system."""
    from .tuning import tune as tune_systems, tuning_seeds
    return tune_systems(scenario, tuning_seeds(scenario.tuning.seeds),
                        quality_bar=scenario.quality_bar, progress=progress)


@dataclass(frozen=True)
class Run:
    """One scenario simulated over ``seeds``: per-system ``summaries`` (every metric of
    :data:`~testbed.report.metrics.METRICS` as an interval over seeds) and the
    ``collector`` that folded the runs (latencies, first seed's trace and stage events)."""

    scenario: Scenario
    seeds: tuple[int, ...]
    summaries: Mapping[str, SystemSummary]
    collector: RunCollector = field(repr=False)


def simulate(scenario: Scenario, seeds: Sequence[int] | None = None, *, live=None,
             jobs: JobsCsvWriter | None = None, timeline: bool = False,
             progress: Progress | None = None) -> Run:
    """Simulate every system of ``scenario`` once per seed (default
    :func:`evaluation_seeds`); a system with a grid runs its first setting unless the
    scenario went through :func:`tune`. Job records are folded into
    summaries and dropped (memory stays flat), after being written to ``jobs`` if given;
    ``timeline`` keeps the first seed's stage events in the plotted window; ``live``: a
    :class:`~testbed.sim.live.LiveRunner`; ``progress`` is called once per seed."""
    from .report.collect import RunCollector
    from .sim import engine

    seeds = evaluation_seeds(scenario) if seeds is None else tuple(seeds)
    collector = RunCollector([s.name for s in scenario.systems], idle_w=scenario.platform.idle_w,
                             duration_s=scenario.duration_s, jobs=jobs,
                             quality_bar=scenario.quality_bar, mk=scenario.mk)
    for seed in seeds:
        events: list = []
        sink = _window_sink(collector.window, events) if timeline and not collector.seeds else None
        result = engine.simulate(scenario, seed=seed, live=live, keep_events=False, on_event=sink)
        collector.add(seed, result.records, events, result)
        if progress:
            progress()
    return Run(scenario, seeds, collector.summaries(), collector)


def _window_sink(window: tuple[float, float], into: list):
    """A sink keeping the stage events that overlap ``window``."""
    t0, t1 = window

    def sink(event) -> None:
        if event.end_s >= t0 and event.start_s <= t1:
            into.append(event)
    return sink


def table(run: Run):
    """One row per system: ``system``, ``policy``, ``bound_of`` (the system a bound
    bounds, else None), ``reference`` (bool); for each of :data:`TABLE_METRICS` its mean
    over seeds and ``<metric>_ci95`` (half-width of the 95 % interval, None with one
    seed); for each of :data:`PAIRED_METRICS` ``<metric>_diff`` (system − reference,
    paired over seeds) and ``<metric>_diff_ci95`` (None for the reference). A
    ``pandas.DataFrame`` when pandas is installed, else a list of dicts."""
    rows = table_rows(run)
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


def table_rows(run: Run) -> list[dict]:
    """:func:`table` as a list of dicts (whether or not pandas is installed)."""
    from .report.metrics import paired
    from .tuning import policy_name

    ref = run.scenario.reference
    diffs = paired(run.summaries, ref) if ref in run.summaries else {}
    specs = {s.name: s for s in run.scenario.systems}
    rows = []
    for name, summary in run.summaries.items():
        row = {"system": name, "policy": policy_name(specs[name].policy),
               "bound_of": specs[name].bound_of, "reference": name == ref}
        for m in TABLE_METRICS:
            row[m], row[f"{m}_ci95"] = summary.metrics[m].mean, summary.metrics[m].half_width
        for m in PAIRED_METRICS:
            d = diffs.get(name, {}).get(m)
            row[f"{m}_diff"] = None if d is None else d.mean
            row[f"{m}_diff_ci95"] = None if d is None else d.half_width
        rows.append(row)
    return rows


# --- report folders ---------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    """What :func:`write_report` wrote: the folder, the evaluation :class:`Run` (of the
    tuned scenario), the :class:`~testbed.report.document.Report` it rendered, what
    tuning tried, and the jobs file (``jobs.csv``, ``jobs.csv.gz``, ``jobs_sample.csv``;
    None with ``jobs="none"``) with a line on what it holds."""

    out: Path
    run: Run
    report: Report
    tuning: Mapping[str, dict]
    jobs_file: str | None
    jobs_note: str


def write_report(scenario: Scenario, out: str | os.PathLike, *,
                 seeds: Sequence[int] | None = None, deadlines: Sequence[float] = (),
                 jobs: str = "full", live=None, command: str = "",
                 progress: bool = False) -> Written:
    """Everything ``testbed run`` does after reading its arguments: tune, simulate
    ``seeds`` (default :func:`evaluation_seeds`), then for each of ``deadlines`` (ms) the
    scenario with that deadline, tuned on its own; write ``out`` (metrics.json, report.md,
    trace.csv, figures and the jobs file of ``jobs``, one of :data:`JOBS_MODES`)
    atomically: on any error an earlier report there is left as it was. ``command`` is
    recorded in metrics.json; ``progress`` shows a bar on stderr when it is a terminal.
    Every input is checked before anything is simulated or written."""
    from .report.writers import atomic_folder, check_replaceable, write_report as write_folder
    from .tuning import check_disjoint, tuning_seeds

    start = time.perf_counter()
    seeds = evaluation_seeds(scenario) if seeds is None else tuple(seeds)
    check_disjoint(seeds, tuning_seeds(scenario.tuning.seeds))
    if jobs not in JOBS_MODES:
        raise TestbedError(f"jobs: expected one of {', '.join(JOBS_MODES)}, got {jobs!r}")
    variants = [(float(d), with_deadline(scenario, d)) for d in deadlines]
    out = check_replaceable(out)
    tuned_systems = sum(len(s.candidates) > 1 for s in scenario.systems)
    steps = (len(seeds) + tuned_systems) * (1 + len(variants))
    with _progress(steps, progress) as bar, atomic_folder(out) as tmp:
        tuned, tuning = tune(scenario, progress=bar.update)
        with _jobs_writer(tmp, jobs) as writer:
            main = simulate(tuned, seeds, live=live, jobs=writer, timeline=True,
                            progress=bar.update)
        curve = _curve(variants, seeds, live, bar.update)
        jobs_file = None if writer is None else writer.path.name
        jobs_note = "no jobs file (--jobs none)" if writer is None else writer.describe()
        report = build_report(main, curve, tuning, command, time.perf_counter() - start,
                              jobs_file=jobs_file, jobs_note=jobs_note)
        write_folder(tmp, report, trace=main.collector.first.trace)
    return Written(out, main, report, tuning, jobs_file, jobs_note)


def _curve(variants, seeds: Sequence[int], live, progress: Progress):
    """[(deadline_ms, summaries)]: each deadline variant tuned on its own, then simulated."""
    return [(d, simulate(tune(sc, progress=progress)[0], seeds, live=live,
                         progress=progress).summaries)
            for d, sc in variants]


def _progress(total: int, enabled: bool):
    """A tqdm bar on stderr; off unless ``enabled``, with a single step, or when stderr
    is not a terminal (tqdm's ``disable=None``)."""
    from tqdm import tqdm
    return tqdm(total=total, unit="run", desc="tuning and simulating", file=sys.stderr,
                disable=None if enabled and total > 1 else True, leave=False)


def _jobs_writer(folder: Path, mode: str):
    from contextlib import nullcontext

    from .report.writers import JOBS_PLAIN_MAX, JOBS_SAMPLE, JobsCsvWriter
    if mode == "none":
        return nullcontext(None)
    if mode == "sample":
        return JobsCsvWriter(folder / "jobs_sample.csv", sample=JOBS_SAMPLE)
    return JobsCsvWriter(folder / "jobs.csv", gzip_above=JOBS_PLAIN_MAX)


BOUND_NOTES = {"budget_oracle": "budget oracle: knows the future budget, not the answer",
               "oracle": "oracle: knows the future budget and which answer is right"}


def _system_info(system, agreement: Mapping, tuning: Mapping, scenario) -> dict:
    from .tuning import policy_name

    manifest = system.bundle.manifest
    policy = policy_name(system.policy)
    info = {"bundle": manifest.name, "method": manifest.method, "policy": policy,
            "policy_params": dataclasses.asdict(system.policy),
            "step_ms": step_ms_at_full_budget(system, scenario)}
    if system.name in tuning:
        info["tuning"] = tuning[system.name]
    if system.bound_of is not None:
        info["bound"] = BOUND_NOTES[policy]
        info["bound_of"] = system.bound_of
    if system.name in agreement:
        info["live_agreement"] = agreement[system.name]
    if getattr(system, "classes", ()):  # task sets: classes with their own bundle
        info["class_models"] = {c.name: {"bundle": c.bundle.manifest.name,
                                         "policy": policy_name(c.policy),
                                         "policy_params": dataclasses.asdict(c.policy),
                                         "step_ms": step_ms_at_full_budget(c, scenario)}
                                for c in system.classes}
    return info


def step_ms_at_full_budget(system, scenario) -> list[float | None]:
    """What each step of ``system`` costs on the scenario's platform at budget 1.0, in ms
    (the cost model's median, the platform's per-step overhead included; a job's start
    cost and the variability come on top)."""
    from .sim.platform import step_costs

    costs = step_costs(system.bundle, scenario.platform, scenario.cost_model,
                       system.profile_ms, system.graphs)
    ms = (w / (scenario.platform.peak_gmacs * 1e9) * 1e3 for w in costs.work_macs)
    return [round(x, 4) if math.isfinite(x) else None for x in ms]  # None: beyond a float


def _budget(trace, until_s: float, peak_gmacs: float):
    """(times_s, budget fraction) of the simulator's trace over the plotted window."""
    from .report.collect import budget_steps

    scale = 1.0 if trace.column == "budget" else 1.0 / peak_gmacs
    return budget_steps(trace.time_s, trace.value, until_s,
                        repeat=trace.after == "repeat", scale=scale)


def build_report(main: Run, curve, tuning: Mapping[str, dict] | None = None,
                 command: str = "", wall_s: float | None = None, *,
                 jobs_file: str | None = "jobs.csv", jobs_note: str = "") -> Report:
    """The :class:`~testbed.report.document.Report` of a finished run: ``main`` (of the
    tuned scenario), ``curve`` ([(deadline_ms, summaries)]), ``tuning`` (what tuning
    tried, per system), the ``command`` to record, and the jobs file written."""
    from .report.document import Report

    sc, first = main.scenario, main.collector.first
    return Report(
        scenario=sc.name, scenario_file=str(sc.path), command=command, seeds=main.seeds,
        duration_s=sc.duration_s, summaries=main.summaries, description=sc.description,
        systems_info={s.name: _system_info(s, first.live_agreement, tuning or {}, sc)
                      for s in sc.systems},
        reference=sc.reference, quality_bar=sc.quality_bar, mk=sc.mk, objective=sc.objective,
        curve=curve, manifests={s.name: s.bundle.manifest for s in sc.systems},
        latencies_s=main.collector.latencies_s,
        workload_deadlines_ms=tuple(dict.fromkeys(w.deadline_ms for w in sc.workload)),
        events=main.collector.events, events_seed=main.seeds[0],
        budget=_budget(first.trace, sc.duration_s, sc.platform.peak_gmacs),
        window=main.collector.window, wall_s=wall_s,
        jobs_file=jobs_file, jobs_note=jobs_note, tasks=main.collector.task_summary())
