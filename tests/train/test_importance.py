"""Importance (eq. 2) and selection score (eq. 3): a unit with zeroed weights ranks last."""

import torch
import torch.nn.functional as F

from testbed.data.datasets import synthetic_split
from testbed.nets import NestedNet
from testbed.train import compact
from testbed.train.common import BatchStream
from testbed.train.construction import Candidates, select
from testbed.train.importance import Importance, new_gates, selection_scores


def test_a_unit_whose_weights_were_zeroed_ranks_last():
    torch.manual_seed(0)
    net = NestedNet("lenet3c1l", 0.5, 10, 2)
    dead = 3
    with torch.no_grad():                 # unit 3 of conv2: no input, no BN shift
        layer = net.hidden[1]
        layer.weight[dead] = 0
        layer.bias[dead] = 0
        layer.bn.weight[dead] = 0
        layer.bn.bias[dead] = 0
    imp, stream = Importance(net), BatchStream(synthetic_split("train", n=64), 32, (0, "imp"))
    for _ in range(2):
        x, y = stream.next()
        for k in (1, 2):
            gates = new_gates(net)
            F.cross_entropy(compact.forward(net, x, k, gates), y).backward()
            imp.add(k, gates)
    scores = selection_scores(imp, 1, 1.5)
    assert scores[1][dead] == 0 and (scores[1][torch.arange(len(scores[1])) != dead] > 0).all()
    c = Candidates(net, imp, 1, 1.5)
    first = select(c, amount=1.0, limit=1e12)[0]
    assert (c.layer[first], c.unit[first]) in [(1, dead)] + \
        [(i, int(u)) for i, s in enumerate(scores) for u in torch.nonzero(s == 0).flatten()]


def test_scores_weigh_larger_subnets_by_the_growth_factor():
    net = NestedNet("lenet5", 0.5, 10, 3)
    imp = Importance(net)
    for k, value in ((1, 1.0), (2, 10.0), (3, 100.0)):
        for acc in imp.of(k):
            acc.fill_(value)
    assert float(selection_scores(imp, 1, 1.5)[0][0]) == 1.0 + 1.5 * 10 + 1.5 ** 2 * 100
    assert float(selection_scores(imp, 3, 1.5)[0][0]) == 100.0
