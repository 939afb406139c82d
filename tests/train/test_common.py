"""Shared training helpers: LR schedule, exact LR suppression, distillation, streams."""

import torch

from testbed.nets import NestedNet
from testbed.data.datasets import synthetic_split
from testbed.train.common import (BatchStream, distill_loss, lr_at, make_sgd, param_stages,
                                  sgd_step, suppression_scales)
from testbed.train.recipe import Optimizer, Schedule


def test_lr_schedule_endpoints():
    cos = Schedule("cosine", 0.0, 0.1)
    assert lr_at(cos, 1.0, 0.0) == 1.0 and abs(lr_at(cos, 1.0, 1.0) - 0.1) < 1e-12
    assert abs(lr_at(cos, 1.0, 0.5) - 0.55) < 1e-12
    assert lr_at(Schedule("constant"), 0.3, 0.7) == 0.3
    assert lr_at(Schedule("linear", 0.5), 1.0, 0.25) < 1.0


def test_lr_suppression_scales_exactly_beta_to_the_subnet_gap():
    torch.manual_seed(0)
    net = NestedNet("lenet5", 0.5, 10, 4)
    net.set_steps([torch.randint(1, 5, l.step.shape) for l in net.hidden])
    stages, beta, lr, k = param_stages(net), 0.9, 0.1, 3
    for p in net.parameters():
        p.grad = torch.randn_like(p)
    grads = {p: p.grad.clone() for p in net.parameters()}
    before = {p: p.detach().clone() for p in net.parameters()}
    opt = make_sgd(net.parameters(), Optimizer(lr=lr, momentum=0.0, weight_decay=0.0))
    sgd_step(opt, lr, 0.0, suppression_scales(stages, k, beta))
    for p in net.parameters():
        j = stages[p]
        factor = torch.where(j < k, beta ** (k - j).double(), (j == k).double())
        expected = before[p] - lr * factor.float() * grads[p]
        torch.testing.assert_close(p.detach(), expected, rtol=1e-6, atol=1e-7)
    # the classifier weight of an input unit in subnet 1 moves beta^2 as far when k = 3
    c = net.classifier
    col = int(torch.nonzero(net.hidden[-1].step == 1)[0]) if (net.hidden[-1].step == 1).any() else None
    if col is not None:
        assert torch.allclose(stages[c.weight][:, col], torch.ones(10, dtype=torch.long))


def test_a_subnet_step_leaves_larger_stages_untouched_even_by_weight_decay():
    """Subnets are trained one step each: weight decay must not reach the units a step
    does not use, or the last stage decays K times per batch and trains once."""
    torch.manual_seed(0)
    net = NestedNet("lenet5", 0.5, 10, 4)
    net.set_steps([torch.randint(1, 5, l.step.shape) for l in net.hidden])
    stages, k = param_stages(net), 2
    for p in net.parameters():
        p.grad = torch.randn_like(p) * (stages[p] <= k)
    before = {p: p.detach().clone() for p in net.parameters()}
    opt = make_sgd(net.parameters(), Optimizer(lr=0.1, momentum=0.9, weight_decay=0.0))
    sgd_step(opt, 0.1, 0.05, suppression_scales(stages, k, 1.0))
    for p in net.parameters():
        outside, inside = stages[p] > k, stages[p] <= k
        assert torch.equal(p.detach()[outside], before[p][outside])
        if inside.any():
            assert not torch.equal(p.detach()[inside], before[p][inside])


def test_distillation_term_vanishes_when_student_equals_teacher():
    logits, labels = torch.randn(16, 10), torch.randint(0, 10, (16,))
    ce = torch.nn.functional.cross_entropy(logits, labels)
    loss = distill_loss(logits, logits.clone(), labels, 0.4)
    torch.testing.assert_close(loss, 0.6 * ce)            # KL(teacher || student) = 0
    kl_only = distill_loss(logits, logits.clone(), labels, 1.0)
    assert abs(float(kl_only)) < 1e-6
    assert distill_loss(logits, logits + torch.randn(16, 10), labels, 1.0) > 0
    assert torch.equal(distill_loss(logits, None, labels, 0.4), ce)


def test_batch_stream_resumes_mid_epoch_identically():
    split = synthetic_split("train", n=100)
    a = BatchStream(split, 32, (0, "s"))
    for _ in range(4):
        a.next()                                           # crosses an epoch boundary
    b = BatchStream(split, 32, (0, "s"))
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        (xa, ya), (xb, yb) = a.next(), b.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_quick_evaluation_spreads_over_a_class_sorted_split():
    """An image-folder test split is sorted by class: a quick evaluation on `limit`
    samples must see every class, not just the first one."""
    from testbed.train.common import quick_subset
    labels = torch.arange(10).repeat_interleave(100)          # 1000 samples, sorted
    picked = quick_subset(len(labels), 50)
    assert len(picked) == len(set(picked.tolist())) == 50
    assert torch.bincount(labels[picked], minlength=10).tolist() == [5] * 10
    assert quick_subset(20, None).tolist() == list(range(20))
    assert quick_subset(20, 500).tolist() == list(range(20))
