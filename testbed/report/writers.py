"""Writing a report folder, atomically: ``metrics.json``, ``jobs.csv``, ``trace.csv``,
the figures and ``report.md``.

The last step of the pipeline. Everything is built in a temporary folder next to the
target (:func:`atomic_folder`) and swapped in only when complete, so a failed or
interrupted run never leaves a half report over a good one. ``jobs.csv`` is appended
to run by run (:class:`JobsCsvWriter`) so that long runs keep memory flat; above
:data:`JOBS_PLAIN_MAX` rows it becomes ``jobs.csv.gz``, and a sample may be written
instead (``jobs_sample.csv``, :data:`JOBS_SAMPLE` jobs per system). Computing is
done elsewhere (:mod:`~testbed.report.metrics`, :mod:`~testbed.report.plots`).
"""

from __future__ import annotations

import csv
import gzip
import io
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


JOBS_PLAIN_MAX = 200_000
"""``--jobs full`` writes at most this many job rows plain (``jobs.csv``, ~45 MB at ~220
bytes a row); a run with more writes them all gzip-compressed to ``jobs.csv.gz`` instead
(about 4x smaller; ~1.5 s of compression per 200,000 rows)."""
JOBS_SAMPLE = 1000
"""``--jobs sample`` keeps each system's first this many jobs of the first seed."""


class JobsCsvWriter:
    """``jobs.csv``: a header of :data:`~testbed.sim.records.JOB_COLUMNS`, then one row
    per :class:`JobRecord`, appended as runs finish. ``None`` is an empty cell.

    ``gzip_above=N``: once more than ``N`` rows were written, the file becomes
    ``<path>.gz`` (the rows so far are compressed, the rest follow; byte-identical from
    run to run). ``sample=N``: keep only each system's first ``N`` records of the first
    seed written. ``path`` is the file finally written; ``rows`` the rows in it."""

    def __init__(self, path: str | os.PathLike, *, gzip_above: int | None = None,
                 sample: int | None = None):
        self.path = Path(path)
        self.gzip_above, self.sample = gzip_above, sample
        self._raw = None
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(JOB_COLUMNS)
        self.rows = 0
        self.sample_seed: int | None = None
        self._taken: dict[str, int] = {}

    @property
    def compressed(self) -> bool:
        return self._raw is not None

    def write(self, records: Iterable[JobRecord]) -> None:
        for r in self._sampled(records) if self.sample is not None else records:
            self._csv.writerow(["" if v is None else v for v in (getattr(r, c) for c in JOB_COLUMNS)])
            self.rows += 1
        if self.gzip_above is not None and self.rows > self.gzip_above and not self.compressed:
            self._compress()

    def _sampled(self, records: Iterable[JobRecord]) -> Iterator[JobRecord]:
        for r in records:
            if self.sample_seed is None:
                self.sample_seed = r.seed
            taken = self._taken.get(r.system, 0)
            if r.seed == self.sample_seed and taken < self.sample:
                self._taken[r.system] = taken + 1
                yield r

    def _compress(self) -> None:
        """Move the rows written so far into ``<path>.gz`` and go on writing there."""
        self._file.close()
        plain, self.path = self.path, self.path.with_name(self.path.name + ".gz")
        self._raw = open(self.path, "wb")
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
        self._file = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        with open(plain, encoding="utf-8", newline="") as f:
            shutil.copyfileobj(f, self._file)
        plain.unlink()
        self._csv = csv.writer(self._file, lineterminator="\n")

    def describe(self) -> str:
        """What the file holds, in one line (for the report's file list and stderr)."""
        if self.sample is not None:
            seed = "" if self.sample_seed is None else f" in seed {self.sample_seed}"
            return (f"the first {self.sample:,} jobs of each system{seed} ({self.rows:,} "
                    f"rows; a sample: --jobs full writes every job)")
        if self.compressed:
            return (f"one row per job and system, gzip-compressed ({self.rows:,} rows, "
                    f"over the {self.gzip_above:,} written plain)")
        return f"one row per job and system ({self.rows:,} rows)"

    def close(self) -> None:
        self._file.close()
        if self._raw is not None:
            self._raw.close()

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
