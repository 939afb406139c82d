"""The ONNX-side MAC counter on hand-built graphs, independent of testbed.cost."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from testbed.export.onnx_macs import count_macs


def graph(nodes, inputs, output_shape, inits):
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
                          [numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_conv_counts_weight_times_output_positions():
    conv = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    m = graph([conv], [("x", ["N", 4, 8, 8])], ["N", 6, 8, 8], [("w", [6, 4, 3, 3])])
    assert count_macs(m) == 6 * 4 * 9 * 64


def test_grouped_conv_uses_the_weight_shape():
    conv = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], group=2)
    m = graph([conv], [("x", ["N", 4, 5, 5])], ["N", 6, 3, 3], [("w", [6, 2, 3, 3])])
    assert count_macs(m) == 6 * 2 * 9 * 9


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_and_matmul(trans_b):
    w = [7, 5] if trans_b else [5, 7]
    gemm = helper.make_node("Gemm", ["x", "w"], ["y"], transB=trans_b)
    assert count_macs(graph([gemm], [("x", ["N", 5])], ["N", 7], [("w", w)])) == 35
    mm = helper.make_node("MatMul", ["x", "v"], ["y"])
    assert count_macs(graph([mm], [("x", ["N", 5])], ["N", 7], [("v", [5, 7])])) == 35


def test_other_ops_are_free():
    relu = helper.make_node("Relu", ["x"], ["y"])
    assert count_macs(graph([relu], [("x", ["N", 5])], ["N", 5], [])) == 0
