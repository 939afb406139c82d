"""Writing a report folder, atomically: ``metrics.json``, ``jobs.csv``, ``trace.csv``,
the figures and ``report.md``.

The last step of the pipeline. Everything is built in a temporary folder next to the
target (:func:`atomic_folder`) and swapped in only when complete, so a failed or
interrupted run never leaves a half report over a good one. ``jobs.csv`` is appended
to run by run (:class:`JobsCsvWriter`) so that long runs keep memory flat. Computing is
done elsewhere (:mod:`~testbed.report.metrics`, :mod:`~testbed.report.plots`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import TestbedError
from ..sim.records import JOB_COLUMNS, JobRecord
from . import markdown, plots
from .document import Report, metrics_document

REPORT_MARKERS = ("metrics.json", "report.md")
"""A folder holding one of these is a report and may be replaced by a new one."""


def check_replaceable(target: str | os.PathLike) -> Path:
    """The absolute target path, if a report may be written there: it is absent, an
    empty folder or an earlier report. Anything else is refused, never deleted."""
    path = Path(os.path.abspath(target))
    if not path.exists():
        return path
    if not path.is_dir():
        raise TestbedError(f"{path}: exists and is not a folder; cannot write a report there")
    if any(path.iterdir()) and not any((path / m).is_file() for m in REPORT_MARKERS):
        raise TestbedError(f"{path}: folder is not empty and holds no earlier report "
                           "(no metrics.json or report.md); refusing to replace it")
    return path


@contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces
    ``target`` (an earlier report is removed only after the new one is in place); on
    any exception it is deleted and ``target`` is left as it was."""
    path = check_replaceable(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        _swap(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_stale(path: Path) -> None:
    """Clean up after a writer that was killed: delete its half-built ``.tmp-`` folder, and
    put back an earlier report it had moved into an ``.old-`` holder but not yet replaced.
    Folders of writers that are still running are left alone."""
    prefix = f".{path.name}."
    for stale in path.parent.iterdir():
        if not stale.name.startswith(prefix):
            continue
        kind, _, rest = stale.name[len(prefix):].partition("-")
        pid = rest.partition("-")[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not path.exists() and (stale / path.name).is_dir():
            os.rename(stale / path.name, path)
        shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap(new: Path, target: Path) -> None:
    if not target.exists():
        os.rename(new, target)
        return
    holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    os.rename(target, holder / target.name)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(holder / target.name, target)
        raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)


class JobsCsvWriter:
    """``jobs.csv``: a header of :data:`~testbed.sim.records.JOB_COLUMNS`, then one row
    per :class:`JobRecord`, appended as runs finish. ``None`` is an empty cell."""

    def __init__(self, path: str | os.PathLike):
        self._file = open(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(JOB_COLUMNS)
        self.rows = 0

    def write(self, records: Iterable[JobRecord]) -> None:
        for r in records:
            self._csv.writerow(["" if v is None else v for v in (getattr(r, c) for c in JOB_COLUMNS)])
            self.rows += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "JobsCsvWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_json(path: str | os.PathLike, doc: dict) -> None:
    """Deterministic JSON (fixed key order, no NaN) ending in a newline."""
    Path(path).write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def save_figure(fig, path: str | os.PathLike) -> None:
    fig.savefig(path, dpi=110)


def write_figures(folder: Path, report: Report) -> dict[str, str]:
    """Draw every figure the report has data for; returns {key: file name}."""
    figs = {"rates": lambda: plots.rates(report.summaries)}
    if report.budget is not None and report.window is not None:
        figs["timeline"] = lambda: plots.timeline(*report.budget, report.events,
                                                  list(report.summaries), report.window,
                                                  run_s=report.duration_s)
    if report.manifests:
        figs["profiles"] = lambda: plots.profiles(report.manifests)
    if any(len(v) for v in report.latencies_s.values()):
        figs["latency"] = lambda: plots.latency_cdf(report.latencies_s,
                                                    report.workload_deadlines_ms)
    if report.curve:
        figs["deadlines"] = lambda: plots.deadline_curve(report.curve)
    names = {}
    for key, draw in figs.items():
        save_figure(draw(), folder / f"{key}.png")
        names[key] = f"{key}.png"
    return names


def write_report(folder: str | os.PathLike, report: Report, trace=None) -> None:
    """Write ``metrics.json``, the figures, ``report.md`` and, given a trace object
    with ``write_csv(path)``, ``trace.csv`` into ``folder`` (normally the temporary
    folder of :func:`atomic_folder`; ``jobs.csv`` is written by the caller)."""
    folder = Path(folder)
    write_json(folder / "metrics.json", metrics_document(report))
    if trace is not None:
        trace.write_csv(folder / "trace.csv")
    figures = write_figures(folder, report)
    (folder / "report.md").write_text(markdown.render(report, figures), encoding="utf-8")
