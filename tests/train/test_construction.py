"""SteppingNet construction on the smoke recipe: MAC targets reached, the synapse rule
and nested reuse hold after every move, moved units get their pruned synapses back; the
run writes the checkpoint and training record the exporter and reports read."""

import json

from tests.train.conftest import assert_nested
from testbed.checkpoint import load_checkpoint


def test_construction_reaches_the_mac_targets(smoke_reference):
    summary, _, checks = smoke_reference
    assert checks["moves"] > 4
    for s in summary["subnets"]:
        assert abs(s["macs_pct"] - s["target_pct"]) <= 2.0, s
    assert summary["targets_reached"]


def test_checkpoint_meta_and_training_record(smoke_reference):
    summary, tmp, _ = smoke_reference
    model, meta = load_checkpoint(tmp / "run" / "model.pt")
    assert model.subnet_macs() == meta["subnet_macs"] == [s["macs"] for s in summary["subnets"]]
    assert model.subnet_macs(dense=True) == [s["macs_dense"] for s in summary["subnets"]]
    assert meta["name"] == "lenet5-synthetic-steppingnet" and meta["method"] == "steppingnet"
    assert meta["input"] == {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}
    assert len(meta["classes"]) == 10 and len(meta["test_accuracy"]) == 4
    t = meta["training"]
    assert t["samples_seen"] == 4 * (6 * 2 + 6 * 1) * 32 and t["teacher_samples_seen"] == 10 * 192
    assert t["command"] == "testbed train smoke" and t["iterations"] == 6
    on_disk = json.loads((tmp / "run" / "training.json").read_text())
    assert on_disk["recipe"]["steppingnet"]["iterations"] == 6
    assert on_disk["ablations"] == {"lr_suppression": True, "distillation": True, "width": 2.0,
                                    "preset": "ours", "score_normalization": "rank",
                                    "settle_iterations": 0, "mac_schedule": "lines",
                                    "seed_stages": True, "floors": True, "calibration": True,
                                    "prune_first": True, "prune_threshold_mode": "relative",
                                    "init": "random", "revive_dead": False}
    assert not (tmp / "run" / "state.pt").exists()
    assert_nested(model)


def _occupied(net, s):
    return [bool((layer.step == s).any()) for layer in net.hidden]


def test_every_stage_reaches_the_classifier_through_its_own_units(smoke_reference):
    """A stage that holds units in a layer holds units in every later hidden layer, so
    each step adds a path to the classifier (no stage of conv units only)."""
    summary, tmp, _ = smoke_reference
    model, _ = load_checkpoint(tmp / "run" / "model.pt")
    for s in range(1, model.num_steps + 1):
        occ = _occupied(model, s)
        assert occ[-1], f"stage {s} has no unit in the last hidden layer: {occ}"
        first = occ.index(True)
        assert all(occ[first:]), f"stage {s} skips a layer after its first: {occ}"


def test_seeds_give_the_next_stage_units_in_every_layer_after_the_first():
    import torch
    from testbed.nets import NestedNet
    from testbed.train.construction import Candidates, move_from, seeds
    from testbed.train.importance import Importance

    torch.manual_seed(0)
    net = NestedNet("lenet5", 1.0, 10, 4)
    imp = Importance(net)
    for k in range(1, 5):                      # random importances for every subnet
        gates = [torch.ones(l.step.numel(), requires_grad=True) for l in net.hidden]
        for g in gates:
            g.grad = torch.rand(g.numel())
        imp.add(k, gates)
    c = Candidates(net, imp, 1, 1.5)
    s = seeds(c, net, 1)
    assert sorted(c.layer[s].tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]   # K - 1 = 3 per layer
    for i in s:                                # the lowest-scoring units of their layer
        rest = c.score[(c.layer == c.layer[i])]
        assert (rest < c.score[i]).sum() <= 2
    full = net.subnet_macs()[0]
    move_from(net, imp, 1, 1.5, amount=1.0, surplus=full, target=0.0, tolerance=1.0)
    assert [int((l.step == 2).sum()) for l in net.hidden] == [0, 3, 3, 3]
    assert not seeds(Candidates(net, imp, 1, 1.5), net, 1)     # nothing left to seed
    assert len(seeds(Candidates(net, imp, 2, 1.5), net, 2)) == 3 * 2   # K - 2 = 2 per layer


def _smoke_run(tmp_path, name: str, old: str, new: str):
    """`testbed train` on the smoke recipe with ``old`` replaced by ``new``, into
    ``tmp_path/run``: (the recipe file, its training record)."""
    from testbed.cli import main
    from tests.train.conftest import SMOKE

    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(SMOKE.read_text().replace(old, new))
    assert main(["train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress",
                 "--teacher-cache", str(tmp_path / "teachers")]) == 0
    return recipe, json.loads((tmp_path / "run" / "training.json").read_text())


def test_settle_iterations_hold_the_targets_and_must_be_fewer_than_iterations(tmp_path, capsys):
    """With settle_iterations the moves finish early: from the last moving iteration on
    every subnet sits at its target (±2 pp); settle >= iterations is a recipe error."""
    from testbed.cli import main

    recipe, record = _smoke_run(tmp_path, "settle", "  iterations: 6\n",
                                "  iterations: 6\n  settle_iterations: 3\n")
    targets = [100 * t for t in record["recipe"]["targets"]]
    rows = [r for r in record["history"] if r["phase"] == "construction"]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert any(abs(m - t) > 2.0 for m, t in zip(rows[0]["macs_pct"], targets))
    for r in rows[2:]:                        # moving iterations 1-3, the last one lands
        assert all(abs(m - t) <= 2.0 for m, t in zip(r["macs_pct"], targets)), r
    # the last row's units per stage (and unused) are the final model's (stage_health)
    layers = record["stage_health"]["layers"]
    assert [u[:-1] for u in rows[-1]["units"]] == [[s["units"] for s in layer["stages"]]
                                                   for layer in layers[:len(rows[-1]["units"])]]
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace("settle_iterations: 3", "settle_iterations: 6"))
    assert main(["train", str(bad), "--out", str(tmp_path / "bad"), "--no-progress",
                 "--teacher-cache", str(tmp_path / "teachers")]) == 2
    err = capsys.readouterr().err
    assert "steppingnet.settle_iterations" in err and err.count("\n") == 1


def test_per_mac_smoke_lands_every_subnet_in_its_window(tmp_path, capsys):
    """Issue 19: with score_normalization per_mac the 6-iteration smoke run left subnet 2 at
    37% of a 30% target: the one conv1 filter that could leave it cut synapses subnet 3
    needed, and the guarded calibration allowed no move. Calibration now also tries each
    subnet on its own (larger ones repair after it) and keeps what lands closer."""
    _, record = _smoke_run(tmp_path, "per_mac", "score_normalization: rank",
                           "score_normalization: per_mac")
    assert record["recipe"]["steppingnet"]["score_normalization"] == "per_mac"
    for s in record["subnets"]:                          # the window: target +- tolerance/2
        assert abs(s["macs_pct"] - s["target_pct"]) <= 1.0, s
    assert "miss their MAC targets" not in capsys.readouterr().err


def test_calibration_keeps_the_guarded_pass_unless_the_other_lands_closer():
    """_calibrate_all tries both passes from one assignment and keeps the better one: the
    result is one of the two passes run alone (never a mix), its worst miss (then total)
    no larger than either's; on a tie it is the guarded one."""
    import copy

    from testbed.train.construction import _calibrate_all, calibrate, floors, target_misses

    differed = 0
    for seed in range(12):
        net, imp, targets, tol, _ = _random_case(seed)
        keep = floors(net, targets)
        alone = []
        for guarded in (True, False):
            other = copy.deepcopy(net)
            for j in range(1, 5):
                calibrate(other, imp, j, 1.5, targets[j - 1], tol, keep,
                          targets=targets if guarded else None)
            miss = target_misses(other, targets, tol)
            alone.append(((max(miss), sum(miss)), [layer.step.tolist() for layer in other.hidden]))
        _calibrate_all(net, imp, targets, 1.5, tol, keep)
        got = [layer.step.tolist() for layer in net.hidden]
        best = alone[0] if alone[0][0] <= alone[1][0] else alone[1]
        miss = target_misses(net, targets, tol)
        assert got == best[1] and (max(miss), sum(miss)) == best[0], seed
        differed += alone[0][1] != alone[1][1]
        assert_nested(net)
    assert differed                      # the two passes do disagree on some assignments


def _random_case(seed: int):
    """A LeNet-5 (width 2, 4 subnets) with a random assignment and random importance,
    targets within 20% of its subnets' MACs and the steppingnet tolerance: (net,
    importance, targets, tolerance, the numpy generator for further draws)."""
    import numpy as np
    import torch
    from testbed.cost import dense_macs
    from testbed.nets import NestedNet
    from testbed.train.importance import Importance

    g, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    net = NestedNet("lenet5", 2.0, 10, 4)
    net.set_steps([torch.randint(1, 6, layer.step.shape, generator=g) for layer in net.hidden])
    imp = Importance(net, "rank")
    for per_subnet in imp.acc:
        for acc in per_subnet:
            acc.copy_(torch.rand(acc.shape, generator=g, dtype=torch.float64))
    targets = sorted(m * rng.uniform(0.8, 1.2) for m in net.subnet_macs())
    tol = 0.02 * dense_macs([layer.geom for layer in net.layers()]) / 2.92
    return net, imp, targets, tol, rng


def _random_importance(net, seed=0, normalization="mean"):
    import torch
    from testbed.train.importance import Importance

    torch.manual_seed(seed)
    imp = Importance(net, normalization)
    for k in range(1, net.num_steps + 1):
        gates = [torch.ones(l.step.numel(), requires_grad=True) for l in net.hidden]
        for i, g in enumerate(gates):            # layers on very different scales
            g.grad = torch.rand(g.numel()) * 10.0 ** (3 * i)
        imp.add(k, gates)
    return imp


def test_floors_grow_with_a_stage_mac_share_and_candidates_keep_them():
    import numpy as np
    from testbed.nets import NestedNet
    from testbed.train.construction import Candidates, floors, select

    net = NestedNet("lenet5", 2.0, 10, 4)
    targets = [0.15, 0.30, 0.60, 0.85]
    fl = floors(net, targets)
    widths = [l.step.numel() for l in net.hidden]              # 12, 32, 240, 168
    assert fl[0] == [1] * 4 and [f[0] for f in fl] == [1] * 4
    for j, share in ((2, 0.15 / 0.85), (3, 0.30 / 0.85), (4, 0.25 / 0.85)):
        assert fl[j - 1][1:] == [int(np.ceil(0.5 * share * w)) for w in widths[1:]]
    assert fl[2][2] > fl[3][2] > fl[1][2] > 1                  # the 30% stage keeps the most
    imp = _random_importance(net)
    keep = [1, 3, 20, 10]
    c = Candidates(net, imp, 1, 1.5, keep)
    for i, k in enumerate(keep):   # the best never moves, the next k-1 only as seeds
        mine = c.layer == i
        assert mine.sum() == widths[i] - 1 and (c.floored & mine).sum() == k - 1
        free = c.score[mine & ~c.floored]
        assert (free <= c.score[mine & c.floored].min(initial=np.inf)).all()
    order = select(c, float("inf"), float("inf"))               # everything it may take
    assert not c.floored[order].any() and len(order) == (~c.floored).sum()


def test_a_stage_at_its_floor_still_seeds_the_next_one():
    """Issue 19, the per_mac LeNet-5 run: stage 3 held 29 fc2 units, under its floor of
    30, so it gave stage 4 none and stage 4's step changed no prediction. A floored unit
    may still move as a seed."""
    import torch
    from testbed.nets import NestedNet
    from testbed.train.construction import Candidates, floors, seeds

    net = NestedNet("lenet5", 2.0, 10, 4)
    counts = [[1, 1, 2, 1, 7], [8, 5, 6, 13, 0], [75, 46, 65, 54, 0], [113, 26, 29, 0, 0]]
    net.set_steps([torch.repeat_interleave(torch.arange(1, 6), torch.tensor(c)) for c in counts])
    fl = floors(net, [0.15, 0.30, 0.60, 0.85])
    assert fl[2][3] >= 29
    c = Candidates(net, _random_importance(net), 3, 1.5, fl[2])
    assert not (~c.floored & (c.layer == 3)).any()              # no free fc2 unit in stage 3
    seeded = seeds(c, net, 3)
    assert [int(c.layer[i]) for i in seeded] == [3]             # one fc2 seed for stage 4
    to_floor = seeds(c, net, 3, fl[3])                          # with floors: up to stage 4's
    assert sum(int(c.layer[i]) == 3 for i in to_floor) == fl[3][3]
    assert sum(int(c.layer[i]) == 2 for i in to_floor) == 0     # fc1: stage 4 holds its floor


def test_layer_normalised_scores_compare_layers_on_one_scale():
    """Raw gate gradients of the test's layers differ by 10^3 per layer: "mean" makes each
    layer's scores average 1, so the lowest-scoring units come from every layer; "rank"
    takes the same fraction of every layer's units."""
    import numpy as np
    from testbed.nets import NestedNet
    from testbed.train.construction import Candidates
    from testbed.train.importance import selection_scores

    net = NestedNet("lenet5", 2.0, 10, 4)
    imp = _random_importance(net)
    for s in selection_scores(imp, 1, 1.5):
        assert abs(float(s.mean()) - 1.0) < 1e-9
    c = Candidates(net, imp, 1, 1.5)
    lowest = c.layer[c.score.argsort()[:60]]
    assert set(lowest.tolist()) >= {1, 2, 3}
    imp.normalization = "none"
    raw = Candidates(net, imp, 1, 1.5)
    assert set(raw.layer[raw.score.argsort()[:11]].tolist()) == {0}   # raw: layer 0 first
    imp.normalization = "rank"                 # percentiles within each layer of the stage
    ranked = Candidates(net, imp, 1, 1.5)
    widths = [l.step.numel() for l in net.hidden]
    lowest = ranked.layer[ranked.score.argsort()[:int(0.25 * sum(widths))]]
    for i, w in enumerate(widths):             # a quarter of every layer, within one unit
        assert abs((lowest == i).sum() - 0.25 * w) <= 1.5, (i, (lowest == i).sum(), w)
    for i in range(4):                         # order within a layer is the score order
        mine = ranked.layer == i
        assert (np.argsort(ranked.score[mine]) == np.argsort(raw.score[mine])).all()


def test_subnets_follow_a_straight_line_and_overshoot_is_paid_back():
    """A moving iteration brings each subnet to about its line T + (F - T)(1 - (t+1)/N);
    a subnet already below its line moves nothing."""
    from testbed.cost import dense_macs
    from testbed.nets import NestedNet
    from testbed.train.construction import construction_moves

    net = NestedNet("lenet5", 2.0, 10, 4)
    full = dense_macs([layer.geom for layer in net.layers()])
    targets = [f * full / 2.92 for f in (0.15, 0.30, 0.60, 0.85)]
    imp, n = _random_importance(net), 10
    moved = construction_moves(net, imp, targets, 0, n, 1.5, 0.02 * full / 2.92)
    assert moved[0] > 0
    line = [t + (full - t) * 0.9 for t in targets]
    macs = net.subnet_macs()
    assert line[0] - 0.1 * full < macs[0] <= line[0]              # at most one coarse unit below
    again = construction_moves(net, imp, targets, 0, n, 1.5, 0.02 * full / 2.92)
    assert again[0] == 0 and net.subnet_macs()[0] == macs[0]


def test_calibration_pulls_back_units_but_not_below_a_stage_floor():
    """Subnet 1 below its target takes units back from larger stages, stage 2 first, but
    stage 2 keeps its floor; the rest comes from "unused"."""
    import torch
    from testbed.nets import NestedNet
    from testbed.train.construction import calibrate

    net = NestedNet("lenet5", 2.0, 10, 4)
    fc1 = net.hidden[2].step
    with torch.no_grad():
        fc1[:10] = 2                               # stage 2: 10 fc1 units
        fc1[10:] = 5                               # the other 230: unused (K + 1)
    imp = _random_importance(net)
    base = net.subnet_macs()[0]
    target, tol = base + 40 * 400, 1000.0          # about 40 more fc1 units' worth
    keep = [[1] * 4, [1, 1, 10, 1], [1] * 4, [1] * 4]
    moved = calibrate(net, imp, 1, 1.5, target, tol, keep)
    assert moved < 0 and abs(net.subnet_macs()[0] - target) <= tol / 2
    assert int((fc1 == 2).sum()) == 10             # the floor held
    unfloored = NestedNet("lenet5", 2.0, 10, 4)
    with torch.no_grad():
        unfloored.hidden[2].step[:10] = 2
        unfloored.hidden[2].step[10:] = 5
    calibrate(unfloored, imp, 1, 1.5, target, tol)
    assert int((unfloored.hidden[2].step == 2).sum()) == 1   # default floor: one unit


def test_calibration_never_takes_a_larger_subnet_below_its_target():
    """Issue 19: on random assignments, calibrating subnet j (bringing units back or moving
    one on) leaves every larger subnet at or above its target - tol/2, or no lower than it
    was. (Without ``targets`` 9 of 40 such cases broke it when this was written.)"""
    from testbed.train.construction import calibrate, floors

    for seed in range(25):
        net, imp, targets, tol, rng = _random_case(seed)
        before = net.subnet_macs()
        j = int(rng.integers(1, 4))
        calibrate(net, imp, j, 1.5, targets[j - 1], tol, floors(net, targets), targets=targets)
        after = net.subnet_macs()
        for k in range(j, 4):
            assert after[k] >= min(before[k], targets[k] - tol / 2), (seed, j, k)
        assert_nested(net)


def test_calibration_swaps_a_coarse_unit_in_when_only_coarse_units_are_left():
    """Issue 19, the long LeNet-5 run: every fc and conv2 unit in use, "unused" holding only
    conv1 filters (each ~9% of the MACs, more than the tolerance window), subnet 4 stuck
    6.7 points under its target. Calibration brings one filter back and hands finer units
    of stage 4 on until subnet 4 is within the window, as close as the floors allow."""
    import torch
    from testbed.nets import NestedNet
    from testbed.train.construction import calibrate, floors

    net = NestedNet("lenet5", 2.0, 10, 4)
    counts = [[1, 1, 2, 1, 7], [17, 4, 6, 5, 0], [139, 22, 43, 36, 0], [24, 89, 30, 25, 0]]
    net.set_steps([torch.repeat_interleave(torch.arange(1, 6), torch.tensor(c)) for c in counts])
    imp = _random_importance(net)
    orig = 651720
    macs = net.subnet_macs()
    conv1 = net.hidden[0].step
    singles = []
    for u in torch.nonzero(conv1 == 5).flatten().tolist():
        conv1[u] = 4
        singles.append(net.subnet_macs()[3] - macs[3])
        conv1[u] = 5
    target, tol = macs[3] + 0.6 * min(singles), 0.02 * orig
    assert min(singles) > target - macs[3] + tol / 2          # no unused unit fits on its own
    targets = [macs[0], macs[1], macs[2], target]
    moved = calibrate(net, imp, 4, 1.5, target, tol, floors(net, targets), targets=targets)
    assert abs(net.subnet_macs()[3] - target) <= tol / 2
    assert moved > 0 and int((conv1 == 4).sum()) == 2
    assert net.subnet_macs()[:3] == macs[:3]                  # smaller subnets untouched
    assert_nested(net)
