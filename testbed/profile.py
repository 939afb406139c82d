"""``testbed profile``: per-stage latency of a bundle on this host with ONNX Runtime
(DESIGN §1: profile sits between export and simulate; the simulator's ``profiled`` cost
model reads what this writes).

Each stage runs on the outputs of the stages before it; every measurement has warm-up
runs, then repeats, and keeps the median and p95. For an incremental bundle the same run
also times reaching subnet k by chaining stages 1..k against one monolithic subnet-k
graph rebuilt from the same weights (:func:`testbed.export.stages.build_monolithic`: the
dense subnet) and against stages 1..k fused into one graph (:mod:`testbed.export.fuse`:
same operators, no session boundaries), interleaved repeat by repeat so that drift on a shared host hits both alike. Results go
to ``profile.json`` in the bundle (not covered by the manifest's checksums).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .errors import TestbedError


def host_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"hostname": platform.node(), "platform": platform.platform(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "vector": vector_isa(), "native_bf16": native_bf16()}


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (x86 ``flags``, Arm ``Features``; None:
    not readable here)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def vector_isa() -> str | None:
    """The widest x86 vector instructions this CPU has ("avx512", "avx2"; None: neither
    or not known): what sets ONNX Runtime's convolution channel block (16 or 8 floats)."""
    flags = cpu_flags() or set()
    if "avx512f" in flags:
        return "avx512"
    return "avx2" if "avx2" in flags else None


def native_bf16() -> bool | None:
    """This CPU computes bfloat16 natively (AVX512-BF16 or AMX on x86, BF16 on Arm); None:
    not known. Without it PyTorch emulates bfloat16 on CPU, far slower than fp32."""
    flags = cpu_flags()
    if flags is None:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def stats_ms(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min())}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fns: list, warmup: int, repeats: int) -> list[list[float]]:
    """Time every function ``repeats`` times, interleaved, after ``warmup`` rounds."""
    times: list[list[float]] = [[] for _ in fns]
    for r in range(warmup + repeats):
        for i, fn in enumerate(fns):
            t = _timed(fn)
            if r >= warmup:
                times[i].append(t)
    return times


def profile_bundle(path, threads: int = 1, batch: int = 1, warmup: int = 10, repeats: int = 50,
                   write: bool = True) -> dict:
    import onnxruntime
    from .export.runtime import Chain, make_session
    from .export.validate import load_stage_models, validate_bundle
    if threads < 1 or batch < 1 or repeats < 1 or warmup < 0:
        raise TestbedError("--threads, --batch and --repeats must be >= 1, --warmup >= 0")
    bundle = validate_bundle(path)
    models = load_stage_models(bundle)
    chain = Chain([make_session(m, threads) for m in models])
    x = np.random.default_rng(0).standard_normal((batch, *bundle.manifest.input["shape"])).astype(np.float32)
    result = {"bundle": bundle.manifest.name, "method": bundle.manifest.method,
              "host": host_info(), "onnxruntime": onnxruntime.__version__, "threads": threads,
              "batch": batch, "warmup": warmup, "repeats": repeats,
              "stages": _stage_latency(bundle, chain, x, warmup, repeats),
              "reach": _reach_latency(bundle, models, chain, x, threads, warmup, repeats)}
    if write:
        _write_json(bundle.path / "profile.json", result)
    return result


def _stage_latency(bundle, chain, x: np.ndarray, warmup: int, repeats: int) -> list[dict]:
    carries, carry = [None], None
    for k in range(1, len(chain.sessions)):
        carry = chain.step(k, x, carry) if bundle.manifest.incremental else None
        carries.append(carry)
    fns = [lambda k=k: chain.step(k, x, carries[k - 1]) for k in range(1, len(chain.sessions) + 1)]
    rows = []
    for st, times in zip(bundle.manifest.stages, measure(fns, warmup, repeats)):
        rows.append({"index": st.index, "macs": st.macs, "macs_dense": st.macs_dense, **stats_ms(times)})
    return rows


def _reach_latency(bundle, models, chain, x, threads, warmup, repeats) -> list[dict] | None:
    """Chained stages 1..k vs a dense monolithic subnet-k graph and vs stages 1..k fused
    into one graph (incremental bundles only)."""
    if not bundle.manifest.incremental:
        return None
    from .export.fuse import fuse_stages
    from .export.onnx_macs import count_macs
    from .export.runtime import make_session
    from .export.stages import build_monolithic
    from .export.unfold import unfold_stages
    net = unfold_stages(models, str(bundle.path))
    monos = [build_monolithic(net, k) for k in range(1, len(models) + 1)]
    fused = [make_session(fuse_stages(models, k), threads) for k in range(1, len(models) + 1)]
    sessions = [make_session(m, threads) for m in monos]
    fns = []
    for k in range(1, len(models) + 1):
        fns += [lambda k=k: chain.run(x, upto=k),
                lambda s=sessions[k - 1]: s.run(None, {"image": x}),
                lambda s=fused[k - 1]: s.run(None, {"image": x})]
    times = [stats_ms(t) for t in measure(fns, warmup, repeats)]
    rows = []
    for k in range(1, len(models) + 1):
        chained, mono, fuse = times[3 * k - 3: 3 * k]
        rows.append({"subnet": k, "chained": chained, "monolithic": mono, "fused": fuse,
                     "ratio": chained["median_ms"] / mono["median_ms"],
                     "ratio_fused": chained["median_ms"] / fuse["median_ms"],
                     "chained_macs_dense": bundle.manifest.cost_to_reach(k, "macs_dense"),
                     "monolithic_macs_dense": count_macs(monos[k - 1])})
    return rows


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
