#!/usr/bin/env python
"""Benchmark of stage formats (issue 18, part 4); prints JSON and writes it to ``--out``.

For each incremental bundle the stage graphs are rebuilt from the bundle's own weights
(:func:`testbed.export.unfold.unfold_stages`) in every format below, then timed with
ONNX Runtime on one thread, pinned to one core, all variants interleaved repeat by repeat
(in a shuffled order per repeat) so that load from other processes hits all alike;
medians are reported.

* ``concat``: the shipped stage graphs (:mod:`testbed.export.stages` as they were
  exported: each stage's Conv expands every earlier input channel again);
  ``concat_lean``: rebuilt by today's builder (one Concat per carried state, read by the
  next layer, instead of two identical ones); ``concat_aligned``: ``concat_lean`` with
  Conv input channels zero-padded to a multiple of 4 where ONNX Runtime's NCHWc kernels
  then apply (:func:`align_conv_inputs`);
* ``patches`` (channels-last, :mod:`testbed.export.patches`: each block expanded once by a
  Gather, carried as patches; the image re-expanded per stage), ``patches_img``: image
  patches carried too, ``blocks``: raw blocks carried and re-expanded per stage;
  ``patches_nchw``: NCHW patches (row Gather + one Slice per column offset), first layer a
  Conv; ``patches_nchw_img``: NCHW with the image's patches carried;
* ``mono_conv`` / ``mono_aligned`` / ``mono_patches`` / ``mono_patches_nchw``: subnet k as
  one graph;
* ``options``: the full chain of ``concat`` and ``patches`` under ONNX Runtime session
  options (graph optimisation level, memory pattern, arena) and with OrtValue feeds.

Per stage: stage k alone on the carry of stages 1..k-1; ``reach``: stages 1..k chained.

    python scripts/bench_stage_format.py --core 0         # the 4 shipped incremental bundles
    python scripts/bench_stage_format.py --repeats 50 --bundles models/lenet5-cifar10-anywidth
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without an install
    sys.path.insert(0, str(ROOT))

BUNDLES = ["models/lenet3c1l-cifar10-steppingnet", "models/lenet3c1l-cifar10-anywidth",
           "models/lenet5-cifar10-steppingnet", "models/lenet5-cifar10-anywidth"]
FORMATS = ["concat", "concat_lean", "concat_aligned", "patches", "patches_img", "blocks",
           "patches_nchw", "patches_nchw_img"]
PATCH_SPECS = {"patches": ("patches", "gather", "nhwc"), "patches_img": ("patches", "carry", "nhwc"),
               "blocks": ("blocks", "gather", "nhwc"), "patches_nchw": ("patches", "conv", "nchw"),
               "patches_nchw_img": ("patches", "carry", "nchw")}
OPTIONS = ["default", "default_again", "opt_basic", "opt_extended", "opt_disable",
           "no_mem_pattern", "no_arena", "ortvalue"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundles", nargs="+", default=BUNDLES)
    p.add_argument("--repeats", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--core", type=int, default=None, help="CPU to pin to (default: the last one)")
    p.add_argument("--out", default="reports/bench/stage_format.json")
    args = p.parse_args(argv)
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    import onnxruntime
    from testbed.profile import host_info
    given = argv if argv is not None else sys.argv[1:]
    result = {"command": " ".join(["python", "scripts/bench_stage_format.py", *given]),
              "host": host_info(), "onnxruntime": onnxruntime.__version__, "threads": 1, "core": core,
              "batch": 1, "warmup": args.warmup, "repeats": args.repeats,
              "bundles": [bench_bundle(Path(b), args.warmup, args.repeats) for b in args.bundles]}
    result["summary"] = summary(result["bundles"])
    text = json.dumps(result, indent=2) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


def session(model, option: str = "default"):
    import onnxruntime as ort
    from testbed.export.runtime import make_session
    if option in ("default", "default_again", "ortvalue"):
        return make_session(model, 1)
    opts = ort.SessionOptions()
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    levels = {"opt_basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "opt_extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "opt_disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    if option in levels:
        opts.graph_optimization_level = levels[option]
    opts.enable_mem_pattern = option != "no_mem_pattern"
    opts.enable_cpu_mem_arena = option != "no_arena"
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def ortvalue_runner(sessions, x):
    """Chain 1..k passing OrtValues between sessions (no numpy conversion of state)."""
    import onnxruntime as ort
    from testbed.export.runtime import carried_name
    names = [([i.name for i in s.get_inputs()], [o.name for o in s.get_outputs()]) for s in sessions]
    image = ort.OrtValue.ortvalue_from_numpy(x)

    def run(k: int):
        carry = {}
        for s, (ins, outs) in zip(sessions[:k], names[:k]):
            feed = {n: image if carried_name(n) is None else carry[carried_name(n)] for n in ins}
            carry.update(zip(outs, s.run_with_ort_values(outs, feed)))
        return carry["logits"].numpy()
    return run


class AnyCarryChain:
    """The runtime's chaining rule with ``state_in.X`` fed by the latest earlier stage
    that gave ``state.X`` (a ``patches`` stage reads blocks of any earlier stage)."""

    def __init__(self, sessions):
        from testbed.export.runtime import carried_name
        self.sessions = sessions
        self.plan = [[(i.name, carried_name(i.name)) for i in s.get_inputs()] for s in sessions]
        self.outputs = [[o.name for o in s.get_outputs()] for s in sessions]

    def step(self, k: int, image, carry):
        feed = {name: image if src is None else carry[src] for name, src in self.plan[k - 1]}
        out = dict(carry) if carry else {}
        out.update(zip(self.outputs[k - 1], self.sessions[k - 1].run(None, feed)))
        return out

    def run(self, image, upto=None):
        carry, logits = None, []
        for k in range(1, (upto or len(self.sessions)) + 1):
            carry = self.step(k, image, carry)
            logits.append(carry["logits"])
        return logits


def align_conv_inputs(model, block: int = 16):
    """Zero-pad a Conv's input channels up to a multiple of 4 (a ``Pad`` + zero weight
    columns) when ONNX Runtime would otherwise fall back from its NCHWc kernels (input
    channels >= the block size, 16 with AVX-512, and not a multiple of 4) and the block-
    rounded width is under 1.5x the real one. Logits unchanged; the zero columns are MACs
    ``count_macs`` counts, so this variant is for timing only."""
    import copy

    import onnx
    from onnx import helper, numpy_helper
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes = []
    for node in graph.node:
        w = inits.get(node.input[1]) if node.op_type == "Conv" else None
        cin = int(w.dims[1]) if w is not None else 0
        want = -(-cin // 4) * 4
        if cin >= block and want != cin and -(-cin // block) * block / cin < 1.5:
            weight = numpy_helper.to_array(w)
            pad = np.zeros((weight.shape[0], want - cin, *weight.shape[2:]), weight.dtype)
            w.CopyFrom(numpy_helper.from_array(np.concatenate([weight, pad], axis=1), w.name))
            pads = numpy_helper.from_array(np.array([0, 0, 0, 0, 0, want - cin, 0, 0], np.int64),
                                           f"{node.name}.pads")
            graph.initializer.append(pads)
            nodes.append(helper.make_node("Pad", [node.input[0], pads.name], [f"{node.name}.in"],
                                          name=f"{node.name}.align"))
            node.input[0] = f"{node.name}.in"
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def bench_bundle(path: Path, warmup: int, repeats: int) -> dict:
    from testbed.bundle import load_bundle
    from testbed.export.onnx_macs import count_macs
    from testbed.export.patches import build_patch_monolithic, build_patch_stages
    from testbed.export.runtime import Chain
    from testbed.export.stages import build_monolithic, build_stages
    from testbed.export.unfold import unfold_stages
    from testbed.export.validate import load_stage_models
    bundle = load_bundle(path)
    shipped = load_stage_models(bundle)
    net = unfold_stages(shipped, str(path))
    K = len(shipped)
    graphs = {"concat": shipped, "concat_lean": build_stages(net),
              "concat_aligned": [align_conv_inputs(m) for m in build_stages(net)],
              **{name: build_patch_stages(net, carry=c, first=f, layout=lay)
                 for name, (c, f, lay) in PATCH_SPECS.items()}}
    x = np.random.default_rng(0).standard_normal((1, *bundle.manifest.input["shape"])).astype(np.float32)
    chains = {name: (AnyCarryChain if name in PATCH_SPECS else Chain)([session(m) for m in models])
              for name, models in graphs.items()}
    monos = {"mono_conv": [build_monolithic(net, k) for k in range(1, K + 1)],
             "mono_aligned": [align_conv_inputs(build_monolithic(net, k)) for k in range(1, K + 1)],
             "mono_patches": [build_patch_monolithic(net, k) for k in range(1, K + 1)],
             "mono_patches_nchw": [build_patch_monolithic(net, k, first="conv", layout="nchw")
                                   for k in range(1, K + 1)]}
    mono_s = {name: [session(m) for m in ms] for name, ms in monos.items()}
    ref = chains["concat"].run(x)
    for name, chain in chains.items():
        worst = max(float(np.abs(a - b).max()) for a, b in zip(chain.run(x), ref))
        assert worst <= 1e-4, (path, name, worst)
    fns = {}
    for name, chain in chains.items():
        carries, carry = [None], None
        for k in range(1, K):
            carry = chain.step(k, x, carry)
            carries.append(carry)
        for k in range(1, K + 1):
            fns[(name, "stage", k)] = lambda c=chain, k=k, cr=carries[k - 1]: c.step(k, x, cr)
            fns[(name, "reach", k)] = lambda c=chain, k=k: c.run(x, upto=k)
    for name, sessions in mono_s.items():
        for k, s in enumerate(sessions, start=1):
            fns[(name, "reach", k)] = lambda s=s: s.run(None, {"image": x})
    for fmt in ("concat", "patches"):
        for option in OPTIONS:
            if option == "ortvalue":
                run = ortvalue_runner(chains[fmt].sessions, x)
                fns[(fmt, option, K)] = lambda run=run: run(K)
            elif option != "default":
                chain_cls = AnyCarryChain if fmt in PATCH_SPECS else Chain
                chain = chain_cls([session(m, option) for m in graphs[fmt]])
                fns[(fmt, option, K)] = lambda c=chain: c.run(x)
    med = {key: float(np.median(t)) * 1e3 for key, t in measure(fns, warmup, repeats).items()}
    out = {"bundle": bundle.manifest.name, "method": bundle.manifest.method,
           "macs_dense": [count_macs(m) for m in shipped],
           "nodes": {name: [len(m.graph.node) for m in ms] for name, ms in graphs.items()},
           "formats": {}, "monolithic": {}, "options": {}}
    for name in graphs:
        stage = [med[(name, "stage", k)] for k in range(1, K + 1)]
        reach = [med[(name, "reach", k)] for k in range(1, K + 1)]
        out["formats"][name] = {
            "stage_ms": stage, "reach_ms": reach,
            "ratio_vs_mono_conv": [r / med[("mono_conv", "reach", k)] for k, r in enumerate(reach, 1)],
            "ratio_vs_concat": [r / med[("concat", "reach", k)] for k, r in enumerate(reach, 1)]}
    for name in monos:
        out["monolithic"][name] = [med[(name, "reach", k)] for k in range(1, K + 1)]
    for fmt in ("concat", "patches"):
        out["options"][fmt] = {opt: med[(fmt, "reach", K)] if opt == "default" else med[(fmt, opt, K)]
                               for opt in OPTIONS}
    print(f"{path}: done", file=sys.stderr)
    return out


def measure(fns: dict, warmup: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    keys = list(fns)
    times = {key: [] for key in keys}
    for r in range(warmup + repeats):
        for i in rng.permutation(len(keys)):
            fn = fns[keys[i]]
            start = time.perf_counter()
            fn()
            t = time.perf_counter() - start
            if r >= warmup:
                times[keys[i]].append(t)
    return times


def summary(bundles: list[dict]) -> dict:
    """Geometric means over bundles and subnets of each format's chained time / concat's
    (and / the dense monolithic Conv graph)."""
    out = {}
    for name in FORMATS:
        vs_concat = [r for b in bundles for r in b["formats"][name]["ratio_vs_concat"]]
        vs_mono = [r for b in bundles for r in b["formats"][name]["ratio_vs_mono_conv"]]
        out[name] = {"geomean_reach_vs_concat": float(np.exp(np.mean(np.log(vs_concat)))),
                     "geomean_reach_vs_mono_conv": float(np.exp(np.mean(np.log(vs_mono)))),
                     "worst_reach_vs_mono_conv": float(max(vs_mono))}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
