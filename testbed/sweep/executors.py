"""Executors: map a function over sweep points on local processes or a Dask cluster and
yield ``(point, result_or_exception)`` as each finishes.

``local`` uses a process pool over the machine's cores (one worker runs in-process, which
keeps tracebacks and profiling simple); ``dask`` starts a ``distributed.LocalCluster`` or
connects to an existing scheduler (``--address tcp://host:8786``). Results do not depend on
the executor or the number of workers: every point is a pure function of its parameters,
and the caller orders rows by point index.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator

from ..errors import TestbedError
from ..registry import Registry

EXECUTORS: Registry = Registry("executor")
CONNECT_TIMEOUT = "10s"  # to an existing scheduler (--address): then it is an error


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@EXECUTORS.register("local")
def run_local(fn: Callable, points: list, workers: int | None, address: str | None) -> Iterator:
    if address:
        raise TestbedError("--address is for --executor dask")
    workers = workers or default_workers()
    if workers == 1:
        return ((p, _call(fn, p)) for p in points)
    return _pool_results(ProcessPoolExecutor(max_workers=workers), fn, points)


def _pool_results(pool: ProcessPoolExecutor, fn: Callable, points: list) -> Iterator:
    try:
        futures = {pool.submit(_call, fn, p): p for p in points}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:  # interrupted: drop the points not started instead of running them all
        pool.shutdown(wait=True, cancel_futures=True)


def _call(fn: Callable, point):
    try:
        return fn(point)
    except Exception as exc:  # reported per point, does not lose the others
        return exc


@EXECUTORS.register("dask")
def run_dask(fn: Callable, points: list, workers: int | None, address: str | None) -> Iterator:
    """Connects (or starts the local cluster) at once, so an unreachable scheduler is an
    error before any point runs; the points run as the returned iterator is consumed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a declared dependency
        raise TestbedError("--executor dask needs the 'distributed' package") from None
    cluster = None
    try:
        if address:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        else:
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        where = f"--address {address}" if address else "--executor dask"
        raise TestbedError(f"{where}: cannot reach the Dask scheduler ({exc})") from None
    return _dask_results(client, cluster, fn, points)


def _dask_results(client, cluster, fn: Callable, points: list) -> Iterator:
    from distributed import as_completed as dask_completed
    try:
        futures = {client.submit(_call, fn, p, pure=False): p for p in points}
        for fut in dask_completed(futures):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
