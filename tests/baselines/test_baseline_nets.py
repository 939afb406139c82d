"""Baseline networks: slimmable and static widths hit their MAC targets, switchable BN
keeps per-width statistics, subnets() equals forward(x, k), checkpoints round-trip."""

import pytest
import torch

from testbed.checkpoint import load_checkpoint, save_checkpoint
from testbed.cost import original_macs
from testbed.nets import MODEL_KINDS
from testbed.nets.slimmable import SlimmableNet
from testbed.nets.static import StaticSet
from testbed.nets.widths import solve_all

PAPER_TARGETS = [("lenet3c1l", [0.10, 0.30, 0.50, 0.85], 10),
                 ("lenet5", [0.15, 0.30, 0.60, 0.85], 10),
                 ("vgg16", [0.20, 0.40, 0.50, 0.70], 100)]


def slimmable(arch="lenet3c1l", targets=(0.1, 0.3, 0.5, 0.85), classes=10, seed=0):
    torch.manual_seed(seed)
    sol = solve_all(arch, targets, classes)
    return SlimmableNet(arch, [s.width for s in sol], classes, units=[s.units for s in sol])


@pytest.mark.parametrize("arch,targets,classes", PAPER_TARGETS)
def test_solved_widths_hit_their_mac_targets_within_two_points(arch, targets, classes):
    sol = solve_all(arch, targets, classes)
    ref = original_macs(arch, classes, (3, 32, 32))
    for s, t in zip(sol, targets):
        assert abs(s.fraction - t) <= 0.02, (arch, t, s)
        assert s.macs == pytest.approx(s.fraction * ref)


@pytest.mark.parametrize("kind", ["slimmable", "static"])
def test_model_macs_are_the_solved_macs(kind):
    sol = solve_all("lenet3c1l", [0.1, 0.3, 0.5, 0.85])
    model = MODEL_KINDS.get(kind)("lenet3c1l", [s.width for s in sol], 10,
                                  units=[s.units for s in sol])
    assert model.subnet_macs() == [s.macs for s in sol]
    assert [n.subnet_macs()[0] for n in model.subnets()] == [s.macs for s in sol]


def test_uniform_widths_match_nested_geometry():
    net = SlimmableNet("lenet5", [0.5, 1.0])
    for sub, w in zip(net.subnets(), [0.5, 1.0]):
        assert sub.width == w and all((l.step == 1).all() for l in sub.hidden)


def test_switchable_bn_keeps_separate_statistics_per_width():
    net = slimmable().train()
    before = [[bn.running_mean.clone() for bn in net.bn_layers(k)] for k in range(1, 5)]
    net(torch.randn(8, 3, 32, 32), 2)
    for k in range(1, 5):
        moved = [not torch.equal(b, bn.running_mean) for b, bn in zip(before[k - 1], net.bn_layers(k))]
        assert all(moved) if k == 2 else not any(moved)
    sizes = [[bn.running_mean.numel() for bn in net.bn_layers(k)] for k in range(1, 5)]
    assert sizes == [list(u) for u in net.units]


def _trained_a_little(model):
    model.train()
    with torch.no_grad():
        for _ in range(2):
            for k in range(1, model.num_steps + 1):
                model(torch.randn(8, 3, 32, 32), k)
    return model.eval()


@pytest.mark.parametrize("kind", ["slimmable", "static"])
def test_subnets_equal_forward_k(kind):
    sol = solve_all("lenet3c1l", [0.1, 0.3, 0.5, 0.85])
    torch.manual_seed(1)
    model = _trained_a_little(MODEL_KINDS.get(kind)("lenet3c1l", [s.width for s in sol], 10,
                                                    units=[s.units for s in sol]))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        for k, sub in enumerate(model.subnets(), start=1):
            assert sub.num_steps == 1 and not sub.training
            torch.testing.assert_close(sub(x), model(x, k), rtol=0, atol=1e-5)


def test_slimmable_widths_share_weights():
    net = slimmable()
    w = net.blocks[0].weight
    with torch.no_grad():
        w[0].add_(1.0)                          # unit 0 of conv1 is in every width
    for sub in net.subnets():
        assert torch.equal(sub.hidden[0].weight[0], w[0])


def test_static_models_are_independent():
    model = StaticSet("lenet5", [0.3, 0.6])
    assert model.nets[0].hidden[0].weight.data_ptr() != model.nets[1].hidden[0].weight.data_ptr()
    assert model.subnet_macs() == [n.subnet_macs()[0] for n in model.nets]


@pytest.mark.parametrize("kind", ["slimmable", "static"])
def test_checkpoint_round_trip(kind, tmp_path):
    sol = solve_all("lenet5", [0.15, 0.6])
    model = _trained_a_little(MODEL_KINDS.get(kind)("lenet5", [s.width for s in sol], 10,
                                                    units=[s.units for s in sol]))
    save_checkpoint(tmp_path / "m.pt", model, {"method": kind})
    loaded, _ = load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x, 2), model(x, 2))
    assert loaded.config() == model.config()


def test_bad_widths_are_refused():
    with pytest.raises(ValueError):
        SlimmableNet("lenet3c1l", [])
    with pytest.raises(ValueError):
        SlimmableNet("lenet3c1l", [0.5], units=[[3, 3, 3], [4, 4, 4]])
