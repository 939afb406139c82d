"""scripts/check_baselines.py: every system (up-front and incremental) checked against a
denser grid of its own kind's policies on the evaluation seeds."""

import json

import pytest

from testbed.sim.params import parse_kind
from testbed.sim.policies import POLICIES
from tests.scripts import load_script

from .builders import scenario_dict

INCREMENTAL = {"fixed", "greedy", "deadline_aware", "confidence"}
UPFRONT = {"fixed", "pick_at_start", "safe_first"}


@pytest.mark.parametrize("size", ["small", "dense"])
@pytest.mark.parametrize("incremental", [False, True])
def test_every_grid_setting_is_a_valid_policy_of_its_bundles_kind(size, incremental):
    module = load_script("check_baselines")
    grid = module.dense_grid(4, size, incremental)
    kind = "incremental" if incremental else "non_incremental"
    names = {s["name"] for s in grid}
    assert names == (INCREMENTAL if incremental else UPFRONT)
    assert len({json.dumps(s, sort_keys=True) for s in grid}) == len(grid)   # no repeats
    for setting in grid:
        policy = parse_kind(POLICIES, dict(setting), "grid", "policy", key="name")
        assert kind in type(policy).bundles, setting


def _scenario(write_scenario, toy_bundles):
    entries = [{"name": "sn", "model": str(toy_bundles["steppingnet"]), "policy": "auto"},
               {"name": "slim", "model": str(toy_bundles["slimmable"]), "policy": "auto"}]
    return write_scenario(scenario_dict(entries, seeds=2, duration_s=2.0,
                                        tuning={"seeds": 1}))


def test_incremental_systems_are_checked_when_named(write_scenario, toy_bundles, tmp_path,
                                                    monkeypatch, capsys):
    module = load_script("check_baselines")
    monkeypatch.setitem(module.GRIDS, "small", ([0.0, 0.5], [1.0], [0.9]))
    monkeypatch.setitem(module.THRESHOLDS, "small", (0.9,))
    path, out = _scenario(write_scenario, toy_bundles), tmp_path / "c.json"
    assert module.main([str(path), "--grid", "small", "--systems", "sn,slim",
                        "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc == json.loads(capsys.readouterr().out)
    assert set(doc["systems"]) == {"sn", "slim"}
    for name, family, incremental in (("sn", INCREMENTAL, True), ("slim", UPFRONT, False)):
        entry = doc["systems"][name]
        assert entry["grid_size"] == len(module.dense_grid(4, "small", incremental))
        assert entry["best_grid_setting"]["name"] in family
        assert entry["gap_points"] == pytest.approx(
            100 * (entry["best_grid_accuracy"] - entry["reported_accuracy"]))
        assert 0 <= entry["reported_accuracy"] <= 1
    # by default only the up-front systems, as before
    assert module.main([str(path), "--grid", "small", "--out", str(out)]) == 0
    assert set(json.loads(out.read_text())["systems"]) == {"slim"}


def test_an_unknown_system_is_one_error_before_any_tuning(write_scenario, toy_bundles,
                                                          monkeypatch, capsys):
    module = load_script("check_baselines")
    import testbed.tuning
    monkeypatch.setattr(testbed.tuning, "tune", lambda *a, **k: pytest.fail("tuned"))
    path = _scenario(write_scenario, toy_bundles)
    assert module.main([str(path), "--systems", "sn,nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "(systems: slim, sn)" in err
