"""Round trip through a checkpoint file with the project's own model kinds: SlimmableNet
and StaticSet (non-incremental, exported via ``subnets()``) and a NestedNet carrying the
any-width assignment. BN statistics are randomised so that folding is exercised; the
reference is each model's own ``forward(x, k)``."""

import numpy as np
import pytest
import torch

from tests.export.exportfakes import ARCHS, LIMIT, meta_for, randomize
from testbed.arch import geometry
from testbed.bundle import load_bundle
from testbed.checkpoint import save_checkpoint
from testbed.cost import dense_macs, original_macs
from testbed.export.evaluate import normalized
from testbed.export.runtime import chain_from_files
from testbed.export.writer import export_checkpoint
from testbed.nets import NestedNet
from testbed.nets.anywidth import assign
from testbed.nets.slimmable import SlimmableNet
from testbed.nets.static import StaticSet


def shake_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "running_var") and hasattr(m, "eps"):
                n = m.running_var.numel()
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
    return model.eval()


def build(arch, method):
    w = ARCHS[arch]
    torch.manual_seed(1)
    if method == "slimmable":
        return shake_bn(SlimmableNet(arch, [w / 2, w]), 2)
    if method == "static":
        return shake_bn(StaticSet(arch, [w / 2, w]), 3)
    top = dense_macs(geometry(arch, w)) / original_macs(arch, 10, (3, 32, 32))
    a = assign(arch, w, [top * f for f in (0.3, 0.6, 0.9)])
    net = NestedNet(arch, w, 10, 3)
    return randomize(net, 4, [torch.as_tensor(s) for s in a.steps])


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("method", ["slimmable", "static", "anywidth"])
def test_checkpoint_round_trip(tmp_path, arch, method):
    model = build(arch, method)
    save_checkpoint(tmp_path / "m.pt", model, meta_for(arch, method))
    out = export_checkpoint(tmp_path / "m.pt", tmp_path / "bundle", limit=LIMIT, threads=1)
    bundle = load_bundle(out, verify=True)
    k_all = bundle.manifest.num_stages
    assert k_all == model.num_steps and bundle.manifest.incremental == (method == "anywidth")
    chain = chain_from_files([bundle.stage_path(k) for k in range(1, k_all + 1)], 1)
    x = normalized(np.random.default_rng(0).integers(0, 255, (8, 3, 32, 32), dtype=np.uint8),
                   [0.5] * 3, [0.25] * 3)
    with torch.no_grad():
        want = [model(torch.from_numpy(x), k).numpy() for k in range(1, k_all + 1)]
    for got, ref in zip(chain.run(x), want, strict=True):
        assert np.max(np.abs(got - ref)) <= 1e-4
    reach = [bundle.manifest.cost_to_reach(k) for k in range(1, k_all + 1)]
    assert reach == model.subnet_macs()
