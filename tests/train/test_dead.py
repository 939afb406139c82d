"""Dead units in the construction (``steppingnet.revive_dead``): found by an exactly-zero
gate gradient in every subnet, re-initialised so that they can learn again, nothing else
touched."""

import torch

from testbed.nets import NestedNet
from testbed.train import compact
from testbed.train.common import make_sgd
from testbed.train.dead import dead_units, revive_dead
from testbed.train.health import unit_activity
from testbed.train.importance import Importance, new_gates
from testbed.train.recipe import Optimizer


def _net():
    torch.manual_seed(0)
    net = NestedNet("lenet5", 1.0, 10, 4)
    for layer in net.hidden:                      # units spread over stages 1..4 and unused (5)
        layer.step.copy_(torch.arange(layer.step.numel()) % 5 + 1)
    return net


def _round(net, x, y):
    """One construction-like pass per subnet: importance from the gate gradients."""
    imp = Importance(net, "none")
    for k in range(1, net.num_steps + 1):
        gates = new_gates(net)
        loss = torch.nn.functional.cross_entropy(compact.forward(net, x, k, gates), y)
        loss.backward()
        imp.add(k, gates)
    return imp


def test_dead_units_are_found_revived_and_nothing_else_changes():
    net = _net()
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    fc1 = net.hidden[2]
    killed = torch.tensor([1, 3, 4])              # stages 2, 4 and unused (step 5)
    with torch.no_grad():
        fc1.weight[killed] = -fc1.weight[killed].abs()  # negative on non-negative inputs...
        fc1.bias[killed] = -1.0                         # ...and below zero: dead ReLUs
    imp = _round(net, x, y)
    found = dead_units(net, imp)
    alive = unit_activity(net, x)
    assert {1, 3} <= set(found[2].tolist()) and 4 not in found[2].tolist()
    for i, units in enumerate(found):             # exactly the silent units of the subnets
        layer = net.hidden[i]
        silent = (~alive[i] & (layer.step <= net.num_steps)).nonzero().flatten()
        assert units.tolist() == silent.tolist()
    assert sum(map(len, found)) > 3               # random init leaves some dead: see dead.py
    opt = make_sgd(net.parameters(), Optimizer(lr=0.1, momentum=0.9, weight_decay=0.0))
    loss = torch.nn.functional.cross_entropy(compact.forward(net, x), y)
    loss.backward()
    opt.step()                                    # momentum buffers exist
    for p in net.parameters():
        opt.state[p]["momentum_buffer"].fill_(1.0)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    counts = revive_dead(net, opt, imp, torch.Generator().manual_seed(3), x)
    assert counts == [len(u) for u in found]
    after = dict(net.named_parameters())
    for name, old in before.items():
        changed = (after[name].detach() != old).reshape(old.shape[0], -1).any(1)
        layer = int(name.split(".")[1]) if name.startswith("hidden.") else None
        expect = [] if layer is None else found[layer].tolist()
        assert changed.nonzero().flatten().tolist() == expect, name
        buf = opt.state[after[name]]["momentum_buffer"].reshape(old.shape[0], -1)
        assert (buf[expect] == 0).all() and (buf[changed.logical_not()] == 1).all()
    now = unit_activity(net, x)
    for i, units in enumerate(found):
        assert now[i][units].all(), i             # every revived unit fires again
    assert not now[2][4]                          # the unused one left as it was
    assert not set(dead_units(net, _round(net, x, y))[2].tolist()) & set(found[2].tolist())


def test_revival_is_deterministic_for_a_seed():
    a, b = _net(), _net()
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    for net in (a, b):
        with torch.no_grad():
            net.hidden[1].weight[2] = -net.hidden[1].weight[2].abs()
            net.hidden[1].bias[2] = -5.0
        opt = make_sgd(net.parameters(), Optimizer(lr=0.1, momentum=0.9, weight_decay=0.0))
        revive_dead(net, opt, _round(net, x, y), torch.Generator().manual_seed(7), x)
    assert torch.equal(a.hidden[1].weight, b.hidden[1].weight)


def test_a_smoke_run_with_revival_logs_what_it_revived(tmp_path):
    import yaml

    from testbed.train.recipe import parse_recipe
    from testbed.train.runner import run_training

    from .conftest import SMOKE, assert_nested
    raw = yaml.safe_load(SMOKE.read_text())
    raw["steppingnet"]["revive_dead"] = True
    summary = run_training(parse_recipe(raw, str(SMOKE)), None, tmp_path / "run",
                           show_progress=False, teacher_cache=tmp_path / "teachers")
    assert summary["ablations"]["revive_dead"] is True
    rows = [r for r in summary["history"] if r["phase"] == "construction"]
    assert rows and all(len(r["revived"]) == 4 for r in rows)
    from testbed.checkpoint import load_checkpoint
    assert_nested(load_checkpoint(tmp_path / "run" / "model.pt")[0])
