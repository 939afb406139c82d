"""Stage health: a step whose last hidden layer is dead is reported silent, with its dead
units counted; a healthy network has no silent step."""

import torch

from testbed.nets import NestedNet
from testbed.train import compact
from testbed.train.health import stage_health, unit_activity


def net_with_steps(seed=0):
    torch.manual_seed(seed)
    net = NestedNet("lenet3c1l", 0.5, 10, 3)
    steps = []
    for layer in net.hidden:
        n = layer.step.numel()
        steps.append(torch.arange(n) % 3 + 1)          # every layer has units of every step
    net.set_steps(steps)
    net.train()
    with torch.no_grad():                               # calibrate BN statistics on data
        for _ in range(30):
            compact.forward(net, torch.randn(64, 3, 32, 32), 3)
    return net.eval()


def test_a_stage_with_a_dead_last_layer_is_silent():
    net = net_with_steps()
    x = torch.randn(64, 3, 32, 32)
    healthy = stage_health(net, x)
    assert healthy["silent_stages"] == []
    assert all(c > 0 for c in healthy["changed_from_previous_subnet"][1:])
    last = net.hidden[-1]
    with torch.no_grad():                               # kill stage 3 in the last layer
        last.bn.weight[last.step == 3] = 0.0
        last.bn.bias[last.step == 3] = -1.0
    sick = stage_health(net, x, torch.zeros(64, dtype=torch.long))
    assert sick["silent_stages"] == [3]
    stage3 = sick["layers"][-1]["stages"][2]
    assert stage3["dead"] == stage3["units"] == int((last.step == 3).sum())
    assert sick["changed_from_previous_subnet"][2] == 0 and len(sick["accuracy"]) == 3
    # the earlier layers' stage-3 units still fire: only the last layer is dead
    alive = unit_activity(net, x)
    assert alive[0][net.hidden[0].step == 3].any()


def test_a_nested_run_records_its_stage_health(smoke_reference):
    summary, _, _ = smoke_reference
    health = summary["stage_health"]
    assert health["images"] > 0 and len(health["accuracy"]) == len(summary["subnets"])
    assert isinstance(health["silent_stages"], list)
    assert len(health["layers"][0]["stages"]) == len(summary["subnets"])
