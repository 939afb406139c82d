"""The ``patches`` stage format prototype (issue 18, part 4; timed by
scripts/bench_stage_format.py, not shipped): its stages chain to the same logits as the
``concat`` stages within the export tolerance, count the same MACs per stage, and
``unfold`` refuses them. Plus the ``concat`` builder's single Concat per carried state."""

from collections import Counter

import numpy as np
import onnx
import pytest
import torch

from tests.export.exportfakes import nested
from testbed.errors import BundleError
from testbed.export.fold import fold_net
from testbed.export.onnx_macs import count_macs
from testbed.export.patches import build_patch_monolithic, build_patch_stages
from testbed.export.runtime import carried_name, make_session
from testbed.export.stages import build_stages
from testbed.export.unfold import unfold_stages
from testbed.export.verify import PARITY_TOL


def run_any_carry(models, x):
    """Chain where ``state_in.X`` comes from the latest earlier stage that gave ``state.X``."""
    carry, logits = {}, []
    for model in models:
        s = make_session(model, 1)
        feed = {i.name: x if carried_name(i.name) is None else carry[carried_name(i.name)]
                for i in s.get_inputs()}
        carry.update(zip([o.name for o in s.get_outputs()], s.run(None, feed)))
        logits.append(carry["logits"])
    return logits


@pytest.mark.parametrize("arch,method,layout,first", [
    ("lenet3c1l", "steppingnet", "nchw", "conv"), ("lenet3c1l", "anywidth", "nhwc", "carry"),
    ("lenet5", "steppingnet", "nhwc", "gather"), ("lenet5", "anywidth", "nchw", "carry"),
    ("vgg16", "anywidth", "nhwc", "gather")])
def test_patch_stages_match_the_network_and_count_the_same_macs(arch, method, layout, first):
    net = nested(arch, seed=5, method=method)
    models = build_patch_stages(fold_net(net), carry="patches", first=first, layout=layout)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = [net(torch.from_numpy(x), k).numpy() for k in range(1, net.num_steps + 1)]
    for got, ref in zip(run_any_carry(models, x), want):
        assert np.max(np.abs(got - ref)) <= PARITY_TOL
    for model in models:
        onnx.checker.check_model(model, full_check=True)
    assert [count_macs(m) for m in models] == net.stage_macs(dense=True)
    mono = build_patch_monolithic(fold_net(net), 2, layout=layout)
    assert np.max(np.abs(make_session(mono, 1).run(None, {"image": x})[0] - want[1])) <= PARITY_TOL


def test_patches_are_expanded_once_and_carried():
    net = fold_net(nested("lenet3c1l", seed=1))
    models = build_patch_stages(net, layout="nchw", first="conv")
    ins = [{i.name for i in m.graph.input} for m in models]
    outs = [{o.name for o in m.graph.output} for m in models]
    assert "state.conv1.s1" in outs[0] and "state_in.conv1.s1" in ins[3]
    for k, model in enumerate(models, start=1):       # stage k expands only its own block
        gathers = Counter(n.op_type for n in model.graph.node)["Gather"]
        assert gathers == sum(1 for i in (1, 2) if np.any(net.hidden[i - 1].steps == k))


def test_unfold_refuses_patch_stages():
    models = build_patch_stages(fold_net(nested("lenet5", seed=2)))
    with pytest.raises(BundleError, match="stage format 'patches'"):
        unfold_stages(models, "bundle")


def test_concat_stages_concatenate_each_state_once():
    for model in build_stages(fold_net(nested("lenet3c1l", seed=3)))[1:]:
        concats = [tuple(n.input) for n in model.graph.node if n.op_type == "Concat"]
        assert concats and len(concats) == len(set(concats))
