"""Baseline training on the synthetic dataset: every method trains to exactly the sample
budget of the SteppingNet recipe it names, mismatched recipes are refused loudly, runs
resume bit-identically, and the sandwich rule / BN recalibration behave."""

from types import SimpleNamespace

import pytest
import torch
import yaml

from testbed.errors import ConfigError
from testbed.train.baseline import (budget, steppingnet_samples, subnets_per_batch,
                                    widths_for_batch)
from testbed.train.recipe import load_recipe
from testbed.train.runner import run_training

COMMON = {"arch": "lenet3c1l", "dataset": "synthetic", "width": 0.5,
          "targets": [0.05, 0.1, 0.2], "seed": 0, "batch_size": 32,
          "teacher": {"epochs": 1, "batch_size": 64},
          "data": {"train_limit": 128, "test_limit": 64}}
SN = {"iterations": 2, "batches_per_iteration": 1, "retrain_epochs": 1, "eval_limit": 64}
TRAIN_SIZE = 128
BASELINES = ["slimmable", "anywidth", "static"]


def write(folder, method, section=None, **common):
    raw = {"name": f"t-{method}", "method": method, **COMMON, **common}
    if method == "steppingnet":
        raw[method] = SN
    else:
        raw[method] = {"budget_matches": "sn.yaml", "eval_limit": 64, **(section or {})}
    path = folder / ("sn.yaml" if method == "steppingnet" else f"{method}.yaml")
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per method (SteppingNet included), sharing one cached teacher."""
    folder = tmp_path_factory.mktemp("recipes")
    write(folder, "steppingnet")
    out = {}
    for method in ["steppingnet"] + BASELINES:
        path = write(folder, method) if method != "steppingnet" else folder / "sn.yaml"
        out[method] = run_training(load_recipe(path), None, folder / "runs" / method,
                                   show_progress=False, teacher_cache=folder / "teachers")
    return folder, out


def test_every_method_sees_the_steppingnet_budget(runs):
    folder, out = runs
    expected = steppingnet_samples(load_recipe(folder / "sn.yaml"), TRAIN_SIZE)
    assert expected == 32 * 3 * (2 * 1 + 1 * (TRAIN_SIZE // 32))
    assert {m: r["samples_seen"] for m, r in out.items()} == {m: expected for m in out}
    for m in BASELINES:
        assert out[m]["training"]["samples_budget"] == expected


def test_records_have_the_compare_training_schema(runs):
    _, out = runs
    for method, rec in out.items():
        assert rec["method"] == method and len(rec["subnets"]) == 3
        for s in rec["subnets"]:
            assert 0 <= s["accuracy"] <= 1 and s["macs_pct"] > 0


def test_baseline_macs_hit_the_targets(runs):
    _, out = runs
    for method in BASELINES:
        pct = [s["macs_pct"] for s in out[method]["subnets"]]
        assert all(abs(p - t) <= 2.0 for p, t in zip(pct, [5, 10, 20])), (method, pct)


def _ctx(path):
    recipe = load_recipe(path)
    return SimpleNamespace(recipe=recipe, params=recipe.params, train=[0] * TRAIN_SIZE)


@pytest.mark.parametrize("change", [{"batch_size": 16}, {"seed": 1},
                                    {"optimizer": {"lr": 0.1}}, {"schedule": "linear"},
                                    {"data": {"train_limit": 64, "test_limit": 64}},
                                    {"compute": {"precision": "bf16"}}])
def test_a_recipe_that_differs_from_its_steppingnet_recipe_is_refused(tmp_path, change):
    write(tmp_path, "steppingnet")
    with pytest.raises(ConfigError, match="sn.yaml"):
        budget(_ctx(write(tmp_path, "slimmable", **change)))


def test_anywidth_must_share_the_expansion_width(tmp_path):
    write(tmp_path, "steppingnet")
    with pytest.raises(ConfigError, match="width"):
        budget(_ctx(write(tmp_path, "anywidth", width=0.6)))
    assert budget(_ctx(write(tmp_path, "static", width=0.6))) > 0   # static ignores width


def test_explicit_samples_must_agree_and_a_budget_is_required(tmp_path):
    write(tmp_path, "steppingnet")
    with pytest.raises(ConfigError, match="samples"):
        budget(_ctx(write(tmp_path, "static", {"samples": 5})))
    assert budget(_ctx(write(tmp_path, "static", {"samples": 576}))) == 576
    with pytest.raises(ConfigError, match="budget_matches"):
        budget(_ctx(write(tmp_path, "static", {"budget_matches": None})))
    with pytest.raises(ConfigError, match="existing"):
        budget(_ctx(write(tmp_path, "static", {"budget_matches": "missing.yaml"})))


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("method,section", [("slimmable", {"sandwich": True}),
                                            ("static", {})])
def test_an_interrupted_run_resumes_bit_identically(runs, method, section):
    folder, _ = runs
    path = write(folder, method, section, name=f"resume-{method}")

    def stop_after_first_save(state):
        raise Interrupt

    kw = {"show_progress": False, "teacher_cache": folder / "teachers"}
    full = run_training(load_recipe(path), None, folder / f"full-{method}", **kw)
    with pytest.raises(Interrupt):
        run_training(load_recipe(path), None, folder / f"cut-{method}",
                     hook=stop_after_first_save, **kw)
    resumed = run_training(load_recipe(path), None, folder / f"cut-{method}", **kw)
    assert resumed["subnets"] == full["subnets"]
    a = torch.load(folder / f"full-{method}" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(folder / f"cut-{method}" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sandwich_rule_trains_smallest_largest_and_random_widths():
    p = SimpleNamespace(sandwich=True, random_widths=1)
    for b in range(20):
        ks = widths_for_batch(5, True, 1, torch.Generator().manual_seed(b))
        assert ks[0] == 5 and ks[-1] == 1 and len(ks) == 3 == subnets_per_batch(5, p)
    assert widths_for_batch(4, False, 1, torch.Generator()) == [4, 3, 2, 1]


def test_bn_recalibration_gives_exact_batch_averages():
    from testbed.nets.slimmable import SlimmableNet
    from testbed.train.slimmable import recalibrate_bn
    torch.manual_seed(0)
    net = SlimmableNet("lenet3c1l", [0.25, 0.5])
    xs = [torch.randn(8, 3, 32, 32) for _ in range(3)]
    stream = SimpleNamespace(next=iter([(x, None) for x in xs]).__next__)
    recalibrate_bn(net, stream, 3)
    layer = net.blocks[0]
    for k in (1, 2):
        w, b = layer.sliced(k)
        means = [torch.nn.functional.conv2d(x, w, b).mean((0, 2, 3)) for x in xs]
        torch.testing.assert_close(layer.bn[k - 1].running_mean, sum(means) / 3)
    assert not net.training


@pytest.mark.parametrize("method", ["anywidth", "slimmable"])
def test_mean_loss_takes_one_kth_of_the_summed_step(tmp_path, monkeypatch, method):
    """`loss: mean` divides the joint gradient by the number of subnets trained on the batch
    (the summed step collapsed any-width's smallest subnets at lr 0.05, see README)."""
    import testbed.train.baseline as baseline

    class Stop(Exception):
        pass

    grads = {}

    def first_step(opt, lr, wd, scales=None):
        grads[mode] = [p.grad.clone() for g in opt.param_groups for p in g["params"]
                       if p.grad is not None]
        raise Stop

    monkeypatch.setattr(baseline, "sgd_step", first_step)
    write(tmp_path, "steppingnet")
    for mode in ("sum", "mean"):
        path = write(tmp_path, method, {"loss": mode})
        with pytest.raises(Stop):
            run_training(load_recipe(path), None, tmp_path / mode, show_progress=False,
                         teacher_cache=tmp_path / "teachers")
    k = len(COMMON["targets"])
    assert len(grads["sum"]) == len(grads["mean"]) > 0
    for s, m in zip(grads["sum"], grads["mean"]):
        torch.testing.assert_close(m * k, s, rtol=1e-4, atol=3e-5)   # float32 sums


def test_unknown_loss_reduction_is_a_config_error(tmp_path):
    write(tmp_path, "steppingnet")
    path = write(tmp_path, "anywidth", {"loss": "avg"})
    with pytest.raises(ConfigError, match="sum or mean"):
        load_recipe(path)


def test_static_trains_given_shapes_and_refuses_ones_off_their_targets(tmp_path):
    """static.units: the models have exactly those units (not the solved ones) and their
    MACs are reported as such; a shape of the wrong length or far from its target's MACs
    is a ConfigError naming the entry."""
    write(tmp_path, "steppingnet")
    shapes = [[8, 5, 6], [9, 9, 10], [14, 13, 14]]          # model 1 is not the solved (6, 6, 6)
    rec = run_training(load_recipe(write(tmp_path, "static", {"units": shapes})), None,
                       tmp_path / "run", show_progress=False, teacher_cache=tmp_path / "t")
    assert rec["units"] == shapes
    from testbed.checkpoint import load_checkpoint
    assert load_checkpoint(tmp_path / "run" / "model.pt")[0].units == shapes
    from testbed.nets.widths import given
    assert rec["subnets"][0]["macs_pct"] == pytest.approx(
        100 * given("lenet3c1l", 0.05, shapes[0]).fraction, abs=0.01)
    for bad, where in [([[8, 5], [9, 9, 10], [14, 13, 14]], r"static\.units\[0\]"),
                       ([[12, 12, 12], [9, 9, 10], [14, 13, 14]], r"static\.units\[0\].*15\.80%"),
                       ([[9, 9, 10], [14, 13, 14]], r"static\.units: expected one list per")]:
        with pytest.raises(ConfigError, match=where):
            run_training(load_recipe(write(tmp_path, "static", {"units": bad})), None,
                         tmp_path / "bad", show_progress=False, teacher_cache=tmp_path / "t")
        assert not (tmp_path / "bad").exists()


def test_a_refused_baseline_recipe_fails_before_the_teacher_and_claims_no_folder(tmp_path):
    write(tmp_path, "steppingnet")
    for method in BASELINES:
        bad = write(tmp_path, method, {"samples": 5})       # disagrees with sn.yaml's budget
        with pytest.raises(ConfigError, match="samples"):
            run_training(load_recipe(bad), None, tmp_path / method, show_progress=False,
                         teacher_cache=tmp_path / "t")
        assert not (tmp_path / method).exists()
    assert not (tmp_path / "t").exists()                      # no teacher was trained
