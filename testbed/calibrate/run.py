"""``testbed calibrate`` end to end: pin, time every graph of every bundle
(:mod:`.measure`), fit the latency model on the stage and monolithic graphs (:mod:`.fit`),
add what a job's start costs (:func:`job_start`), predict every graph (a chained subnet:
the sum of its stages' predictions) and write

- the platform file (``--out``, YAML with a header comment: host, date, command), a
  scenario's ``platform: {file: ...}`` reads it (:mod:`testbed.sim.platform`);
- beside it ``<stem>_samples.json``: each stage's latency samples over their median (the
  ``empirical`` variability) and their log-sd (``lognormal``), plus all stages pooled;
- in the report folder ``calibration.json``, ``report.md`` and ``predicted_vs_measured.png``
  (:mod:`.report`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform as pyplatform
import shlex
import sys
from pathlib import Path

import numpy as np

from ..errors import TestbedError
from .fit import Fit, fit_latency
from ..sim.latency import BLOCKS, DEFAULT_BLOCK
from ..steadiness import probe
from .measure import Graph, graphs_timed, pin

RATIO_POINTS = 1001  # pooled samples kept as this many quantiles
FITTED = ("stage", "monolithic")  # graph kinds the model is fitted on


def job_start(graphs: list[Graph]) -> list[dict]:
    """The latency model's ``job_start`` table: for each idle gap, per bundle, stage 1's
    median as the first step of jobs after that gap (kind "paced",
    :func:`.measure._paced_job`) minus its median run again right after (kind "rerun");
    each point takes the median over bundles (never
    below 0, nor below the point of a shorter gap)."""
    points, floor = [], 0.0
    for gap in sorted({g.gap_ms for g in graphs if g.kind == "paced"}):
        per = {}
        for g in graphs:
            if g.kind == "paced" and g.gap_ms == gap and g.index == 1:
                warm = _warm(graphs, g)
                per[g.bundle] = {"paced_ms": g.median_ms, "back_to_back_ms": warm.median_ms,
                                 "us": (g.median_ms - warm.median_ms) * 1e3}
        floor = max(floor, float(np.median([v["us"] for v in per.values()])))
        points.append({"gap_ms": gap, "us": floor, "bundles": per})
    return points


def later_start(graphs: list[Graph]) -> list[dict]:
    """What an idle gap costs a job's later graphs (stages 2..k of incremental bundles,
    kind "paced" with index > 1): per gap, per bundle the median over its later stages of
    (median after the gap - median run again right after), and the median over bundles:
    the latency model's ``later_start`` (``job_start`` covers the first graph)."""
    points = []
    for gap in sorted({g.gap_ms for g in graphs if g.kind == "paced" and g.index > 1}):
        per = {}
        for g in graphs:
            if g.kind == "paced" and g.gap_ms == gap and g.index > 1:
                warm = _warm(graphs, g)
                per.setdefault(g.bundle, []).append((g.median_ms - warm.median_ms) * 1e3)
        bundles = {name: float(np.median(us)) for name, us in per.items()}
        points.append({"gap_ms": gap, "us": float(np.median(list(bundles.values()))),
                       "bundles": bundles})
    return points


def _warm(graphs: list[Graph], paced: Graph) -> Graph:
    """The reference for a paced stage: the same stage run again right after it in the
    same jobs (kind "rerun")."""
    return next(h for h in graphs if h.kind == "rerun" and
                (h.bundle, h.index, h.gap_ms) == (paced.bundle, paced.index, paced.gap_ms))


def calibrate(bundles: list, out: Path, report_dir: Path | None = None, *, core=None,
              warmup: int = 20, repeats: int = 300, full: bool = True,
              progress: bool = True, command: str | None = None,
              probe_s: float = 0.0) -> dict:
    """Calibrate on ``bundles`` (folders); returns what ``calibration.json`` holds.
    ``probe_s``: watch the core's steadiness that long before and after measuring
    (:func:`testbed.steadiness.probe`; 0: not at all)."""
    if warmup < 0 or repeats < 3:
        raise TestbedError("--warmup must be >= 0 and --repeats >= 3")
    if not 0 <= probe_s <= 60:   # also refuses NaN
        raise TestbedError(f"--probe-s: expected seconds in [0, 60], got {probe_s}")
    out = Path(out)
    if out.suffix not in (".yaml", ".yml"):
        raise TestbedError(f"--out {out}: expected a platform file name ending in .yaml")
    report_dir = Path(report_dir) if report_dir else out.with_name(f"{out.stem}-calibration")
    before = os.sched_getaffinity(0)
    try:
        used = pin(core)
        load = _loadavg()
        steady = {"before": probe(probe_s)} if probe_s > 0 else {}
        graphs = _measure_all(bundles, warmup, repeats, progress)
        if probe_s > 0:
            steady["after"] = probe(probe_s)
    finally:
        os.sched_setaffinity(0, before)
    result = _result(graphs, full, used, load, warmup, repeats, command)
    result["host"]["probe"] = steady
    write_outputs(result, graphs, out, report_dir)
    return result


def _measure_all(bundles: list, warmup: int, repeats: int, progress: bool) -> list[Graph]:
    from tqdm import tqdm
    graphs: list[Graph] = []
    with tqdm(total=warmup + repeats, desc="calibrate (bundles in turns)",
              unit="round", disable=not progress, file=sys.stderr) as bar:
        graphs += graphs_timed(bundles, warmup, repeats, bar)
    return graphs


def _result(graphs: list[Graph], full: bool, core: int, load: list[float],
            warmup: int, repeats: int, command: str | None) -> dict:
    """``full``: the shipped model (per-operator, input/output and im2col terms, MACs as
    the kernels execute them), else the simple one (launch + max(dense MACs, memory)),
    which is always fitted for comparison."""
    blocks = _block_errors(graphs) if full else {}
    block = min(blocks, key=blocks.get) if blocks else DEFAULT_BLOCK
    graphs = at_block(graphs, block)
    fitted = [g for g in graphs if g.kind in FITTED]
    fit = _fit(fitted, full)
    simple = _fit(fitted, False)
    rows = [_row(g, fit, simple, full) for g in graphs if g.kind not in ("paced", "rerun")]
    start = job_start(graphs)
    later = later_start(graphs)
    return {"host": _host(core, load), "date": _now(), "command": command or _command(),
            "warmup": warmup, "repeats": repeats,
            "model": {**_model(fit), "padded": full, "block": block,
                      "job_start": [{"gap_ms": p["gap_ms"], "us": p["us"]} for p in start],
                      "later_start": [{"gap_ms": p["gap_ms"], "us": max(0.0, p["us"])}
                                      for p in later]},
            "job_start": start,
            "later_start": later,
            "blocks": [{"block": b, "median_error": e} for b, e in blocks.items()],
            "simple_model": {**_model(simple), "padded": False, "block": block},
            "errors": {kind: _errors([r for r in rows if r["kind"] == kind])
                       for kind in ("stage", "monolithic", "chained")},
            "simple_errors": {kind: _errors([r for r in rows if r["kind"] == kind], "simple_")
                              for kind in ("stage", "monolithic", "chained")},
            "held_out": _held_out(graphs, full),
            "stages": [r for r in rows if r["kind"] == "stage"],
            "subnets": [r for r in rows if r["kind"] != "stage"]}


def at_block(graphs: list[Graph], block: int) -> list[Graph]:
    """``graphs`` as kernels with a channel block of ``block`` execute them (the same
    samples)."""
    return [dataclasses.replace(g, parts=tuple(p.at_block(block) for p in g.parts))
            for g in graphs]


def _block_errors(graphs: list[Graph]) -> dict[int, float]:
    """Per channel block the kernels may use (:data:`testbed.sim.latency.BLOCKS`): the shipped model's
    median error over the fitted graphs when fitted with that block. ONNX Runtime's block
    is the vector width, which the host's instruction set decides (8 floats with AVX2, 16
    with AVX-512); the fit that explains the measurements best tells which this host has."""
    out = {}
    for block in BLOCKS:
        fitted = [g for g in at_block(graphs, block) if g.kind in FITTED]
        fit = _fit(fitted, True)
        out[block] = float(np.median([abs(_predict(g, fit, True) / g.median_ms - 1)
                                      for g in fitted]))
    return out


def _fit(graphs: list[Graph], full: bool) -> Fit:
    nodes, macs, by, expand, io = (
        np.array([sum(getattr(p, f) for p in g.parts) for g in graphs], float)
        for f in ("nodes", _macs(full), "bytes", "expand", "io"))
    return fit_latency(nodes, macs, by, [g.median_ms for g in graphs],
                       expand if full else None, io if full else None, per_node=full)


def _held_out(graphs: list[Graph], full: bool) -> dict | None:
    """Leave one bundle out: each bundle's stages predicted by a fit on the others only
    (an honest figure for a bundle the calibration never saw)."""
    names = list(dict.fromkeys(g.bundle for g in graphs))
    if len(names) < 2:
        return None
    err = []
    for name in names:
        others = [g for g in graphs if g.bundle != name and g.kind in FITTED]
        if len(others) < 4:
            return None
        fit = _fit(others, full)
        err += [abs(_predict(g, fit, full) / g.median_ms - 1) for g in graphs
                if g.bundle == name and g.kind == "stage"]
    return {"median": float(np.median(err)), "worst": float(np.max(err)), "n": len(err)}


def _macs(full: bool) -> str:
    """The StageGraph field the compute term charges: the shipped model counts MACs as the
    kernels execute them (padding included), the simple one dense MACs."""
    return "compute_macs" if full else "macs"


def _predict(g: Graph, fit: Fit, full: bool) -> float:
    """A chained subnet pays every stage's launch: the sum of its stages' predictions."""
    return float(sum(fit.predict([p.nodes], [getattr(p, _macs(full))], [p.bytes], [p.expand],
                                 [p.io])[0] for p in g.parts))


def _row(g: Graph, fit: Fit, simple: Fit, full: bool) -> dict:
    ms = np.asarray(g.samples_ms)
    med, pred, pred_simple = (float(np.median(ms)), _predict(g, fit, full),
                              _predict(g, simple, full=False))
    return {"bundle": g.bundle, "kind": g.kind, "index": g.index,
            "nodes": sum(p.nodes for p in g.parts), "macs": sum(p.macs for p in g.parts),
            "kernel_macs": sum(p.compute_macs for p in g.parts),
            "bytes": sum(p.bytes for p in g.parts),
            "expand_bytes": sum(p.expand for p in g.parts),
            "tensors": sum(p.io for p in g.parts),
            "predicted_ms": pred, "measured_ms": med, "error": pred / med - 1,
            "simple_predicted_ms": pred_simple, "simple_error": pred_simple / med - 1,
            "p5_ms": float(np.percentile(ms, 5)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "sigma": _sigma(ms), "samples": len(ms)}


def _sigma(ms: np.ndarray) -> float:
    """Robust log-sd: half the 16-84% range of the log latency."""
    lo, hi = np.percentile(np.log(ms), [15.87, 84.13])
    return float((hi - lo) / 2)


def _errors(rows: list[dict], prefix: str = "") -> dict | None:
    if not rows:
        return None
    err = np.abs([r[f"{prefix}error"] for r in rows])
    worst = rows[int(np.argmax(err))]
    return {"median": float(np.median(err)), "worst": float(err.max()), "n": len(rows),
            "worst_graph": f"{worst['bundle']} {worst['kind']} {worst['index']}"}


def _model(fit: Fit) -> dict:
    return {"launch_ms": fit.launch_ms, "node_us": fit.node_us, "io_us": fit.io_us,
            "gmacs": fit.gmacs,
            "gbps": fit.gbps, "expand_gbps": fit.expand_gbps,
            "fit_median_error": fit.median_error, "fit_worst_error": fit.worst_error}


def _host(core: int, load: list[float]) -> dict:
    import onnxruntime
    from ..profile import host_info
    return {**host_info(), "core": core, "threads": 1, "loadavg_before": load,
            "loadavg_after": _loadavg(), "onnxruntime": onnxruntime.__version__,
            "os": pyplatform.platform()}


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _command() -> str:
    return "testbed " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def samples_data(graphs: list[Graph]) -> dict:
    """The variability file: per bundle, per stage, latency / median (sorted) and log-sd."""
    bundles: dict[str, list] = {}
    pooled = []
    for g in graphs:
        if g.kind != "stage":
            continue
        ms = np.asarray(g.samples_ms)
        ratios = np.sort(ms / np.median(ms))
        pooled.append(ratios)
        bundles.setdefault(g.bundle, []).append(
            {"index": g.index, "sigma": round(_sigma(ms), 5),
             "ratios": [round(float(r), 4) for r in ratios]})
    every = np.concatenate(pooled)
    quantiles = np.quantile(every, np.linspace(0, 1, min(RATIO_POINTS, len(every))))
    return {"about": "latency / median of each stage's samples (testbed calibrate)",
            "pooled": [round(float(r), 4) for r in quantiles], "bundles": bundles}


def write_outputs(result: dict, graphs: list[Graph], out: Path, report_dir: Path) -> None:
    from .report import write_platform, write_report
    out.parent.mkdir(parents=True, exist_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    samples = out.with_name(f"{out.stem}_samples.json")
    samples.write_text(json.dumps(samples_data(graphs)) + "\n")
    write_platform(result, out, samples.name)
    result["files"] = {"platform": str(out), "samples": str(samples), "report": str(report_dir)}
    (report_dir / "calibration.json").write_text(json.dumps(result, indent=1) + "\n")
    write_report(result, report_dir)
