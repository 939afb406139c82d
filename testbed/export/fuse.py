"""Stages 1..k spliced into one graph (``image`` in, ``logits`` out): the same operators
and weights as the chained stages, but state and logits pass inside one graph instead of
across session calls. Profiling it next to the chain isolates the overhead of chaining
itself (session calls, state copies) from the cost of computing in narrow per-stage
layers, which the dense monolithic graph (:func:`.stages.build_monolithic`) shows.
"""

from __future__ import annotations

import copy

import onnx
from onnx import helper

from .graph import IR_VERSION, OPSET


def fuse_stages(models: list[onnx.ModelProto], k: int) -> onnx.ModelProto:
    nodes, inits = [], []
    for j, model in enumerate(models[:k], start=1):
        rename = _renamer(j, k)
        for init in model.graph.initializer:
            init = copy.deepcopy(init)
            init.name = rename(init.name)
            inits.append(init)
        for node in model.graph.node:
            node = copy.deepcopy(node)
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
            node.name = f"s{j}/{node.name}"
            nodes.append(node)
    last = models[k - 1].graph
    logits = [o for o in last.output if o.name == "logits"]
    graph = helper.make_graph(nodes, f"fused_1_to_{k}", [models[0].graph.input[0]], logits, inits)
    fused = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="testbed")
    fused.ir_version = IR_VERSION
    return fused


def _renamer(j: int, k: int):
    def rename(name: str) -> str:
        if name in ("", "image"):
            return name
        if name == "logits_in":
            return f"s{j - 1}/logits"
        if name.startswith("state_in."):
            return f"s{j - 1}/state.{name[len('state_in.'):]}"
        if name == "logits" and j == k:
            return "logits"
        return f"s{j}/{name}"
    return rename
