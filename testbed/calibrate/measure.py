"""Timing every graph of a bundle for ``testbed calibrate`` (ONNX Runtime, one thread).

For every bundle: each stage as deployed (stage k on the outputs of stages 1..k-1), each
monolithic subnet (a non-incremental bundle's stages are its subnets; an incremental
one's dense subnet-k graph is rebuilt from its stages, :func:`testbed.export.stages.
build_monolithic`, where the stage format allows it) and, for incremental bundles, each
chained subnet (stages 1..k back to back). A bundle's graphs are timed interleaved, round
by round, after warm-up rounds, and the bundles take turns of a few rounds each
(:func:`graphs_timed`), so that drift and slow spells of a shared host hit them all alike;
every sample is kept. Then jobs that start after an idle gap (kind "paced", one set per gap
of :data:`GAPS_MS`: stage 1, and an incremental bundle's later stages after it), each stage
timed again right after (kind "rerun"): what a gap costs a job's first and later graphs
(``job_start``, ``later_start``). The caller pins the process to one core (:func:`pin`).
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
    kind: str                  # "stage", "monolithic", "chained", "paced" (a stage of a
    #                            job after an idle gap) or "rerun" (that stage right after)
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


@dataclass
class Prepared:
    """One bundle ready to time: its graphs, the function that runs each (same order),
    and the stages of a job for the paced runs (stage 1, then, for an incremental bundle,
    stages 2..k; a non-incremental job is its one subnet graph)."""
    graphs: list[Graph]
    fns: list
    first: object
    later: list


def prepare(path) -> Prepared:
    """Every graph of the bundle at ``path``, with sessions built and inputs ready."""
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
    later = fns[1:len(models)] if man.incremental else []
    return Prepared(graphs, fns, fns[0], later)


def graphs_timed(paths, warmup: int, repeats: int, progress=None) -> list[Graph]:
    """Every graph of every bundle at ``paths``, timed. Within a bundle, round by round
    (every graph once per round, as before); across bundles, in turns of :data:`BLOCK`
    rounds, each turn after one untimed round, so that slow spells of a shared host (tens
    of milliseconds) fall on every bundle alike while each bundle's graphs still run
    with its own weights in cache, as in a run of one system. Then each bundle's paced
    jobs (:func:`_paced_job`), one job per bundle in turn at each gap. ``progress``: a tqdm-like bar,
    advanced once per round of every bundle."""
    prepared = [prepare(p) for p in paths]
    for p in prepared:
        for _ in _rounds(p.fns, warmup, 0, None):
            pass
    done = 0
    while done < repeats:
        n = min(BLOCK, repeats - done)
        for p in prepared:
            for times in _rounds(p.fns, 1, n, None):
                for graph, t in zip(p.graphs, times):
                    graph.samples_ms.append(t * 1e3)
        done += n
        if progress is not None:
            progress.update(n)
    graphs = [g for p in prepared for g in p.graphs]
    for gap in GAPS_MS:
        paced = [[Graph(p.graphs[k].bundle, kind, k + 1, p.graphs[k].parts, gap_ms=gap)
                  for kind in ("paced", "rerun") for k in range(1 + len(p.later))]
                 for p in prepared]
        for _ in range(min(repeats, PACED_REPEATS)):
            for job, p in zip(paced, prepared):
                cold, warm = _paced_job(p.first, p.later, gap)
                for graph, t in zip(job, cold + warm):
                    graph.samples_ms.append(t * 1e3)
        graphs += [g for job in paced for g in job]
    return graphs


BLOCK = 10  # rounds of one bundle per turn (a few ms to tens of ms)


GAPS_MS = (1.0, 2.0, 4.0, 8.0)  # idle gaps before paced jobs (the job_start table's points)
PACED_REPEATS = 300             # paced jobs per gap, at most


def _paced_job(first, later, gap_ms: float) -> tuple[list[float], list[float]]:
    """Seconds of each stage of a job that starts ``gap_ms`` after the previous one ended,
    the core spinning in between as ``testbed validate``'s executor does (``first``: stage
    1, then each of ``later``: stages 2..k), and of the same stages run again right after
    (kind "rerun"): against that rerun, a moment later, stage 1 gives the latency
    model's ``job_start`` and the later ones its ``later_start``, whatever speed the host
    has in that minute."""
    clock = time.perf_counter
    until = clock() + gap_ms / 1e3
    while clock() < until:
        pass
    runs = ([], [])
    for out in runs:
        for fn in (first, *later):
            start = clock()
            fn()
            out.append(clock() - start)
    return runs


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
