"""The calibrated latency model (``cost_model: latency``): what one step costs in
milliseconds, and how much one execution of it varies.

Sits between the platform section of a scenario (:mod:`testbed.sim.platform`, which
parses :class:`LatencyModel` as ``platform.latency``) and the processor
(:mod:`testbed.sim.processor`), which charges each step's *drawn* latency against the
budget trace while the policies see only its median (``Observation.work_s``). A step
executing one stage graph with ``kernel_macs`` MACs as the CPU kernels execute them (the
dense MACs, plus the padding of convolutions that run in blocked kernels: channels in
whole blocks of ``block``, 16 with AVX-512 and 8 with AVX2, which calibration picks by
fit; ``padded: false``: the dense MACs only, for kernels that do not pad),
``nodes`` operators and ``bytes`` of weights plus activations read
and written takes, at full budget,

    launch_ms + (nodes * node_us + tensors * io_us) / 1000
              + max(kernel_macs / (gmacs * 1e6), bytes / (gbps * 1e6)) + expand / (expand_gbps * 1e6)
              [+ a job's start cost on its first graph, see below]

milliseconds (``tensors``: the graph's inputs and outputs, each bound and copied per
call; ``expand``: the input patches its convolutions expand, im2col, which neither MACs
nor tensor sizes see), times ``scale`` (platform ms per model ms; ``scale_to_peak`` sets it to
``gmacs / platform.peak_gmacs``: the host's shape on a slower platform). The graph
figures come from :func:`testbed.calibrate.graphs.bundle_graphs` at scenario loading
(ONNX is never imported here); ``testbed calibrate`` fits the parameters on this host.
A job's first graph also pays ``job_start`` (a table of (idle gap before the job, µs),
interpolated linearly from (0, 0), flat beyond its last gap; :func:`start_ms`): after
the processor idled the core comes back to the graphs colder than in back-to-back runs
(caches, branch predictors; on this VM also whatever the hypervisor does meanwhile).
The processor charges it with the gap it saw; the policies, as for variability, see only
the medians. Variability: each execution's latency is the median times a multiplier drawn per
(seed, job, step) from a seeded stream (:func:`testbed.sim.seeds.component_rng`), the
same whatever the policy or the system (common random numbers): ``lognormal`` (median 1,
log-sd ``sigma``) or ``empirical`` (the calibration's samples over their median).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from ..errors import ConfigError
from .params import num
from .seeds import component_rng

# ONNX Runtime's NCHWc convolution kernels compute channels in blocks of the CPU's vector
# width in floats: the block by vector instructions (testbed.profile.vector_isa), the
# blocks a latency model may name, and the one a model names unless calibrated otherwise
VECTOR_BLOCK = {"avx2": 8, "avx512": 16}
BLOCKS = tuple(sorted(VECTOR_BLOCK.values()))
DEFAULT_BLOCK = 16

BLOCK = 1024  # jobs whose multipliers are drawn at once, per step


@dataclass(frozen=True)
class StageGraph:
    """What the latency model needs of one stage graph (counted from its ONNX file)."""
    macs: int    # dense MACs the graph executes
    bytes: int   # weights read + activations and state read and written
    nodes: int   # operators (Constant nodes excluded)
    expand: int = 0  # bytes of input patches its convolutions expand (im2col)
    io: int = 0      # graph inputs + outputs
    kernel_macs: int = 0  # MACs as the CPU kernels execute them, padding included (0: macs)
    blocks: tuple[tuple[int, int, int], ...] = ()  # (channel block, kernel_macs, expand)
    #   per block size the kernels may use; kernel_macs and expand hold one of them

    @property
    def compute_macs(self) -> int:
        """The MACs the compute term charges: ``kernel_macs`` where counted, else ``macs``."""
        return self.kernel_macs or self.macs

    def at_block(self, block: int) -> "StageGraph":
        """This graph as kernels with a channel block of ``block`` execute it (itself
        where it was not counted for that block)."""
        for b, kernel_macs, expand in self.blocks:
            if b == block:
                if (kernel_macs, expand) == (self.kernel_macs, self.expand):
                    return self
                return replace(self, kernel_macs=kernel_macs, expand=expand)
        return self


@dataclass(frozen=True)
class Variability:
    dist: Literal["none", "lognormal", "empirical"] = "none"
    sigma: float = num(0.0, ge=0)  # lognormal: log-sd of every stage not in ``file``
    file: str | None = None        # calibration samples (JSON), relative to its YAML file
    data: dict | None = field(default=None, compare=False, hash=False,
                              metadata={"internal": True})  # the file, loaded

    def check(self, fail) -> None:
        if self.dist == "empirical" and self.file is None:
            fail("file", "the calibration's samples file (dist: empirical needs it; "
                 "`testbed calibrate` writes one beside the platform file)")
        if self.dist == "lognormal" and self.sigma == 0 and self.file is None:
            fail("sigma", "a log-sd > 0 (or a samples `file` with per-stage sigmas)",
                 self.sigma)


@dataclass(frozen=True)
class JobStart:
    """One point of the start-cost table: after ``gap_ms`` idle, a job's first graph
    takes ``us`` longer than back to back."""
    gap_ms: float = num(gt=0)
    us: float = num(ge=0)


@dataclass(frozen=True)
class LatencyModel:
    gmacs: float = num(gt=0)             # compute rate, GMAC/s
    launch_ms: float = num(0.0, ge=0)    # per step (session call, feeds)
    node_us: float = num(0.0, ge=0)      # per operator of the graph (dispatch)
    io_us: float = num(0.0, ge=0)        # per graph input or output tensor (feeds, fetches)
    gbps: float | None = num(None, gt=0)  # memory bandwidth, GB/s (None: no memory term)
    expand_gbps: float | None = num(None, gt=0)  # im2col patches, GB/s (None: no term)
    job_start: tuple[JobStart, ...] | None = None  # start cost by idle gap (start_ms)
    later_start: tuple[JobStart, ...] | None = None  # the same for each later graph of an
    #                                                  incremental job (None: nothing)
    scale: float = num(1.0, gt=0)        # platform ms per model ms
    scale_to_peak: bool = False          # scale = gmacs / platform.peak_gmacs
    padded: bool = True                  # compute term on kernel MACs (blocked convolutions'
                                         # channel padding); false: dense MACs
    block: int = DEFAULT_BLOCK           # the blocked kernels' channel block: 16 (AVX-512)
                                         # or 8 (AVX2), as calibration found it
    variability: Variability = Variability()

    def check(self, fail) -> None:
        if self.scale_to_peak and self.scale != 1.0:
            fail("scale", "no explicit scale together with scale_to_peak: true", self.scale)
        for name in ("job_start", "later_start"):
            gaps = [p.gap_ms for p in getattr(self, name) or ()]
            if any(b <= a for a, b in zip(gaps, gaps[1:])):
                fail(name, "points in increasing gap_ms order", gaps)
        if self.block not in BLOCKS:
            fail("block", f"one of {', '.join(map(str, BLOCKS))}", self.block)

    def scale_for(self, peak_gmacs: float) -> float:
        """Platform ms per model ms on a platform of ``peak_gmacs``."""
        return self.gmacs / peak_gmacs if self.scale_to_peak else self.scale


def start_ms(model: LatencyModel, gap_s: float, peak_gmacs: float,
             later: bool = False) -> float:
    """What a job's first graph (``later``: each of its later graphs) costs beyond its
    median after the processor idled ``gap_s`` seconds (ms at full budget, scaled; 0
    without a ``job_start`` / ``later_start`` table)."""
    table = model.later_start if later else model.job_start
    if not table:
        return 0.0
    gaps = [0.0] + [p.gap_ms for p in table]
    us = [0.0] + [p.us for p in table]
    return float(np.interp(gap_s * 1e3, gaps, us)) / 1e3 * model.scale_for(peak_gmacs)


def model_ms(model: LatencyModel, graph: StageGraph) -> float:
    """Median latency of one execution at full budget on the modelled host (unscaled)."""
    graph = graph.at_block(model.block)
    compute = (graph.compute_macs if model.padded else graph.macs) / (model.gmacs * 1e6)
    memory = graph.bytes / (model.gbps * 1e6) if model.gbps else 0.0
    expand = graph.expand / (model.expand_gbps * 1e6) if model.expand_gbps else 0.0
    fixed = model.launch_ms + (graph.nodes * model.node_us + graph.io * model.io_us) / 1e3
    return fixed + max(compute, memory) + expand


def step_ms(model: LatencyModel, graphs: tuple[StageGraph, ...], peak_gmacs: float
            ) -> tuple[float, ...]:
    """Each step's median latency on the platform (ms at full budget, scaled)."""
    scale = model.scale_for(peak_gmacs)
    return tuple(model_ms(model, g) * scale for g in graphs)


def load_samples(variability: Variability, base: Path, file: Path, where: str) -> Variability:
    """``variability`` with its samples file read (``base``: the folder it is relative to;
    ``file``/``where``: the YAML file and field named in errors)."""
    if variability.file is None:
        return variability
    path = base / variability.file
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(file, f"{where}.file", "a samples JSON file written by `testbed "
                          "calibrate` (relative to the YAML file)",
                          f"{variability.file}: {getattr(exc, 'strerror', None) or exc}") from None
    _check_samples(data, path)
    return Variability(variability.dist, variability.sigma, variability.file, data)


def _check_samples(data: object, path: Path) -> None:
    pooled = data.get("pooled") if isinstance(data, dict) else None
    if not _ratios(pooled):
        raise ConfigError(path, "pooled", "a non-empty list of latency / median ratios > 0",
                          type(pooled).__name__)
    bundles = data.get("bundles", {})
    if not isinstance(bundles, dict):
        raise ConfigError(path, "bundles", "a mapping bundle name -> stage entries", bundles)
    for name, stages in bundles.items():
        for i, entry in enumerate(stages if isinstance(stages, list) else [None]):
            ok = (isinstance(entry, dict) and _ratios(entry.get("ratios"))
                  and isinstance(entry.get("sigma"), (int, float)) and entry["sigma"] >= 0)
            if not ok:
                raise ConfigError(path, f"bundles.{name}.{i}", "{ratios: [...], sigma: >= 0}",
                                  entry)


def _ratios(value: object) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                    and math.isfinite(v) for v in value))


Dist = Callable[[np.ndarray], np.ndarray]  # standard normal draws -> latency multipliers


def stage_dists(variability: Variability, bundle: str, steps: int) -> tuple[Dist, ...] | None:
    """One multiplier distribution per step of bundle ``bundle`` (None: no variability).
    Stages the samples file does not name use ``sigma`` (lognormal) or the pooled
    samples of every calibrated stage (empirical)."""
    if variability.dist == "none":
        return None
    data = variability.data or {}
    known = data.get("bundles", {}).get(bundle, [])
    known = known if len(known) == steps else []
    if variability.dist == "lognormal":
        sigmas = [e["sigma"] for e in known] or [variability.sigma] * steps
        return tuple(_lognormal(s) for s in sigmas)
    ratios = [e["ratios"] for e in known] or [data["pooled"]] * steps
    return tuple(_empirical(r) for r in ratios)


def _lognormal(sigma: float) -> Dist:
    return lambda z: np.exp(sigma * z)


def _empirical(ratios: list[float]) -> Dist:
    values = np.sort(np.asarray(ratios, dtype=float))
    grid = np.linspace(0.0, 1.0, len(values))
    erf = np.vectorize(math.erf, otypes=[float])
    return lambda z: np.interp(0.5 * (1.0 + erf(z / math.sqrt(2.0))), grid, values)


class Draws:
    """The latency multipliers of one run: ``job(job_id)`` -> one per step. Drawn in
    blocks of :data:`BLOCK` jobs per step from ``component_rng(seed, "latency", block,
    step)``, so a (seed, job, step) always gets the same normal draw, whatever ran before.
    ``redraw`` > 0 draws from another stream of the same seed, ``("latency", "redraw",
    redraw, block, step)``: the same run with independent execution times (what
    :mod:`testbed.validate.ceiling` compares the simulator against)."""

    def __init__(self, seed: int, dists: tuple[Dist, ...], redraw: int = 0):
        self.seed, self.dists = seed, dists
        self.key = ("latency",) if redraw == 0 else ("latency", "redraw", redraw)
        self.blocks: dict[int, np.ndarray] = {}

    def job(self, job_id: int) -> tuple[float, ...]:
        block, row = divmod(job_id, BLOCK)
        values = self.blocks.get(block)
        if values is None:
            if len(self.blocks) >= 4:  # jobs come nearly in order: keep a few blocks
                self.blocks.pop(next(iter(self.blocks)))
            values = self.blocks[block] = self._block(block)
        return tuple(values[row].tolist())

    def _block(self, block: int) -> np.ndarray:
        cols = [dist(component_rng(self.seed, *self.key, block, k).standard_normal(BLOCK))
                for k, dist in enumerate(self.dists, start=1)]
        return np.column_stack(cols)
