"""Stage graphs hold exactly their new units: weights re-indexed from the folded network,
the state naming and order of DESIGN §3, and monolithic graphs rebuilt from a bundle."""

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from tests.export.exportfakes import nested
from testbed.export.fold import fold_net
from testbed.export.plan import canonical_order, plan_states
from testbed.export.runtime import Chain, make_session
from testbed.export.stages import build_monolithic, build_stages
from testbed.export.unfold import unfold_stages


def weights(model) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


@pytest.mark.parametrize("arch", ["lenet3c1l", "lenet5", "vgg16"])
@pytest.mark.parametrize("method", ["steppingnet", "anywidth"])
def test_stage_k_holds_no_weight_of_an_earlier_unit(arch, method):
    net = fold_net(nested(arch, seed=3, method=method))
    for k, model in enumerate(build_stages(net), start=1):
        w = weights(model)
        for i, layer in enumerate(net.hidden):
            rows = np.flatnonzero(layer.steps == k)
            name = layer.geom.name
            assert (f"{name}.bias" in w) == (rows.size > 0)
            if rows.size:
                np.testing.assert_array_equal(w[f"{name}.bias"], layer.bias[rows])
            if f"{name}.weight" in w:       # rows: the new units; columns: inputs with step <= k
                n_in = len(canonical_order(net.in_steps(i), k)) * layer.geom.in_per_unit
                assert w[f"{name}.weight"].shape[:2] == (rows.size, n_in)
        cols = np.sum(net.hidden[-1].steps == k) * net.classifier.geom.in_per_unit
        assert w.get("classifier.weight", np.zeros((10, 0))).shape == (10, cols)
        assert ("classifier.bias" in w) == (k == 1)


def test_state_names_and_order():
    torch.manual_seed(0)
    net = fold_net(nested("lenet5", seed=1))
    plan = plan_states([l.steps for l in net.hidden], net.num_steps)
    models = build_stages(net)
    names = lambda vs: [v.name for v in vs]  # noqa: E731
    assert names(models[0].graph.input) == ["image"]
    assert names(models[-1].graph.output) == ["logits"]
    for k, model in enumerate(models, start=1):
        ins, outs = names(model.graph.input), names(model.graph.output)
        assert ins[:2] == (["image", "logits_in"] if k > 1 else ["image"]) and outs[0] == "logits"
        for i, layer in enumerate(net.hidden):
            assert (f"state_in.{layer.geom.name}" in ins) == plan.takes[k - 1][i]
            assert (f"state.{layer.geom.name}" in outs) == plan.gives[k - 1][i]
        assert "state.fc4" not in outs          # the last hidden layer is never carried


def test_state_holds_units_by_step_then_index():
    net = nested("lenet3c1l", seed=2)
    f = fold_net(net)
    models = build_stages(f)
    chain = Chain([make_session(m, 1) for m in models])
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    trace = []
    with torch.no_grad():
        net.features(torch.from_numpy(x), trace=trace)
    want = torch.nn.functional.max_pool2d(trace[0], 1).numpy()  # conv1 has no pooling
    carry = chain.step(1, x, None)
    carry = chain.step(2, x, carry)
    order = canonical_order(f.hidden[0].steps, 2)
    np.testing.assert_allclose(carry["state.conv1"], want[:, order], atol=1e-5)


@pytest.mark.parametrize("arch", ["lenet3c1l", "lenet5", "vgg16"])
def test_monolithic_graphs_rebuilt_from_stages_equal_pytorch(arch):
    net = nested(arch, seed=4)
    models = build_stages(fold_net(net))
    rebuilt = unfold_stages([onnx.load_from_string(m.SerializeToString()) for m in models])
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    for k in range(1, net.num_steps + 1):
        for source in (fold_net(net), rebuilt):
            mono = build_monolithic(source, k)
            assert [i.name for i in mono.graph.input] == ["image"]
            got = make_session(mono, 1).run(None, {"image": x})[0]
            with torch.no_grad():
                want = net(torch.from_numpy(x), k).numpy()
            assert np.max(np.abs(got - want)) <= 1e-4


def test_units_without_inputs_become_their_bias():
    net = nested("lenet5", seed=0)        # conv1 has 3 units: give them all step 3
    steps = [l.step.clone() for l in net.hidden]
    steps[0][:] = 3
    steps[1][:] = 1                       # conv2's step-1 units read nothing
    net.set_steps(steps)
    models = build_stages(fold_net(net))
    assert "conv2.weight" not in weights(models[0]) and "conv2.bias" in weights(models[0])
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    chain = Chain([make_session(m, 1) for m in models])
    with torch.no_grad():
        want = [net(torch.from_numpy(x), k).numpy() for k in range(1, 5)]
    for got, ref in zip(chain.run(x), want):
        assert np.max(np.abs(got - ref)) <= 1e-4


def test_fused_stages_equal_the_chain_and_count_the_same_macs():
    from testbed.export.fuse import fuse_stages
    from testbed.export.onnx_macs import count_macs
    net = nested("lenet5", seed=6)
    models = build_stages(fold_net(net))
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
    chained = Chain([make_session(m, 1) for m in models]).run(x)
    dense = net.stage_macs(dense=True)
    for k in range(1, 5):
        fused = fuse_stages(models, k)
        onnx.checker.check_model(fused, full_check=True)
        assert count_macs(fused) == sum(dense[:k])
        np.testing.assert_allclose(make_session(fused, 1).run(None, {"image": x})[0], chained[k - 1],
                                   rtol=0, atol=1e-6)
