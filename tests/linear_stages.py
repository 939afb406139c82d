"""Real, tiny incremental ONNX stage graphs for tests that run ONNX Runtime (live mode,
the latency model's graph counts, validate): stage k computes
``logits = [logits_in +] flatten(image) @ weight``."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

SHAPE, CLASSES = (3, 8, 8), 10


def linear_stage(weight: np.ndarray, chained: bool) -> bytes:
    """One stage graph (``chained``: it also reads ``logits_in``), serialised."""
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *SHAPE])]
    nodes = [helper.make_node("Flatten", ["image"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["part" if chained else "logits"])]
    if chained:
        inputs.append(helper.make_tensor_value_info("logits_in", TensorProto.FLOAT,
                                                    ["N", CLASSES]))
        nodes.append(helper.make_node("Add", ["logits_in", "part"], ["logits"]))
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])
    graph = helper.make_graph(nodes, "stage", inputs, [output],
                              [numpy_helper.from_array(weight.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()
