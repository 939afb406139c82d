"""Timing every graph of a bundle for ``testbed calibrate`` (ONNX Runtime, one thread).

Per bundle: each stage as deployed (stage k on the outputs of stages 1..k-1), each
monolithic subnet (a non-incremental bundle's stages are its subnets; an incremental
one's dense subnet-k graph is rebuilt from its stages, :func:`testbed.export.stages.
build_monolithic`, where the stage format allows it) and, for incremental bundles, each
chained subnet (stages 1..k back to back). All are timed interleaved, repeat by repeat,
after warm-up rounds, so that drift on a shared host hits them alike, and every sample is
kept. Then stage 1 once more, as the first step of jobs that start after an idle gap
(kind "paced", one graph per gap of :data:`GAPS_MS`): what a job's start costs beyond
back-to-back runs. The caller pins the process to one core (:func:`pin`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..bundle import load_bundle
from ..errors import TestbedError
from ..sim.latency import StageGraph


@dataclass
class Graph:
    """One measured graph: a stage, a monolithic subnet or a chain of stages 1..index."""
    bundle: str
    kind: str                  # "stage", "monolithic", "chained" or "paced" (stage 1 of paced jobs)
    index: int                 # stage k or subnet k
    parts: tuple[StageGraph, ...]  # the graph(s) it runs (chained: stages 1..k)
    samples_ms: list[float] = field(default_factory=list)
    gap_ms: float | None = None    # paced: the idle gap before each job

    @property
    def median_ms(self) -> float:
        return float(np.median(self.samples_ms))


def pin(core: int | None) -> int:
    """Pin this process to ``core`` (default: the last core it may run on); returns it."""
    allowed = sorted(os.sched_getaffinity(0))
    core = allowed[-1] if core is None else core
    if core not in allowed:
        raise TestbedError(f"--core {core}: this process may run on cores "
                           f"{', '.join(map(str, allowed))}")
    os.sched_setaffinity(0, {core})
    return core


def bundle_graphs_timed(path, warmup: int, repeats: int, progress=None) -> list[Graph]:
    """Every graph of the bundle at ``path``, timed (``progress``: a tqdm-like bar,
    advanced once per round)."""
    from ..export.runtime import Chain, make_session
    from ..export.validate import load_stage_models
    from .graphs import graph_stats
    bundle = load_bundle(path, verify=True)
    man = bundle.manifest
    models = load_stage_models(bundle)
    stats = [graph_stats(m, macs=st.macs_dense) for m, st in zip(models, man.stages)]
    chain = Chain([make_session(m, 1) for m in models])
    x = np.random.default_rng(0).standard_normal((1, *man.input["shape"])).astype(np.float32)
    carries = [None]
    for k in range(1, len(models)):
        carries.append(chain.step(k, x, carries[-1]) if man.incremental else None)
    graphs = [Graph(man.name, "stage", k, (stats[k - 1],)) for k in range(1, len(models) + 1)]
    fns = [lambda k=k: chain.step(k, x, carries[k - 1]) for k in range(1, len(models) + 1)]
    if man.incremental:
        for k, (mono, mono_stats) in enumerate(_monolithic(models, str(bundle.path)), start=1):
            session = make_session(mono, 1)
            graphs.append(Graph(man.name, "monolithic", k, (mono_stats,)))
            fns.append(lambda s=session: s.run(None, {"image": x}))
        for k in range(1, len(models) + 1):
            graphs.append(Graph(man.name, "chained", k, tuple(stats[:k])))
            fns.append(lambda k=k: chain.run(x, upto=k))
    for times in _rounds(fns, warmup, repeats, progress):
        for graph, t in zip(graphs, times):
            graph.samples_ms.append(t * 1e3)
    rest = (lambda: chain.run(x, upto=len(models))) if man.incremental else (lambda: None)
    for gap in GAPS_MS:
        graphs.append(Graph(man.name, "paced", 1, (stats[0],), gap_ms=gap, samples_ms=[
            t * 1e3 for t in _paced(fns[0], rest, gap, min(repeats, PACED_REPEATS))]))
    return graphs


GAPS_MS = (1.0, 2.0, 4.0, 8.0)  # idle gaps before paced jobs (the job_start table's points)
PACED_REPEATS = 300             # paced jobs per gap, at most


def _paced(first, rest, gap_ms: float, repeats: int) -> list[float]:
    """Seconds of ``first`` (stage 1) in jobs that each start ``gap_ms`` after the
    previous one ended, the core spinning in between as ``testbed validate``'s executor
    does, each job running the rest of the bundle after its timed stage 1 (``rest``).
    Compared with stage 1 back to back it gives the latency model's ``job_start``."""
    clock, out = time.perf_counter, []
    for _ in range(repeats):
        until = clock() + gap_ms / 1e3
        while clock() < until:
            pass
        start = clock()
        first()
        out.append(clock() - start)
        rest()
    return out


def _monolithic(models, label: str) -> list:
    """(graph, figures) of each dense monolithic subnet, or none where the stage format
    cannot be unfolded back into a network."""
    from ..export.stages import build_monolithic
    from ..export.unfold import unfold_stages
    from .graphs import graph_stats
    try:
        net = unfold_stages(models, label)
        monos = [build_monolithic(net, k) for k in range(1, len(models) + 1)]
    except Exception:  # a stage format unfold does not know: measure the stages only
        return []
    return [(m, graph_stats(m)) for m in monos]


def _rounds(fns: list, warmup: int, repeats: int, progress):
    """Yield one list of seconds per timed round (every function once, in order)."""
    clock = time.perf_counter
    for r in range(warmup + repeats):
        times = []
        for fn in fns:
            start = clock()
            fn()
            times.append(clock() - start)
        if progress is not None:
            progress.update(1)
        if r >= warmup:
            yield times
