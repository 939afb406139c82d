"""The simulator against itself: the same run on independent execution-time draws
(``redraw``), and the per-job agreement ceiling `testbed validate` reports from it."""

import pytest

pytest.importorskip("onnx")

from testbed.scenario import load_scenario  # noqa: E402
from testbed.sim import engine  # noqa: E402
from testbed.sim.latency import Draws, Variability, stage_dists  # noqa: E402
from testbed.validate import ceiling  # noqa: E402
from testbed.validate.compare import agreement  # noqa: E402
from tests.sim.test_latency import graph_bundle, latency_scenario, write  # noqa: E402


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("ceiling")
    return {m: graph_bundle(root / m, m, i) for i, m in enumerate(
        ("steppingnet", "anywidth", "slimmable", "static"))}


def _key(records):
    return [(r.system, r.job_id, r.stages_done, r.result_stage, r.hit) for r in records]


def test_a_redraw_is_another_stream_and_redraw_0_is_the_usual_one():
    dists = stage_dists(Variability("lognormal", 0.2), "b", 3)
    usual = [Draws(7, dists).job(j) for j in range(50)]
    assert [Draws(7, dists, 0).job(j) for j in range(50)] == usual
    other = [Draws(7, dists, 1).job(j) for j in range(50)]
    assert other != usual and [Draws(7, dists, 1).job(j) for j in range(50)] == other
    assert other != [Draws(7, dists, 2).job(j) for j in range(50)]


def test_the_ceiling_is_the_median_agreement_of_the_run_with_its_redraws(bundles, tmp_path):
    raw = latency_scenario(bundles, {"dist": "lognormal", "sigma": 0.4}, duration_s=20.0)
    scenario = load_scenario(write(tmp_path, raw))
    base = engine.simulate(scenario)
    assert _key(engine.simulate(scenario, redraw=0).records) == _key(base.records)
    assert _key(engine.simulate(scenario, redraw=1).records) != _key(base.records)
    ceilings = ceiling.scenario_ceilings(scenario)
    assert set(ceilings) == {"step", "slim"}
    for name, value in ceilings.items():
        mine = [r for r in base.records if r.system == name]
        direct = sorted(agreement(mine, [r for r in engine.simulate(scenario, redraw=k).records
                                         if r.system == name]) for k in (1, 2, 3))
        assert value == pytest.approx(direct[1])
    assert min(ceilings.values()) < 1.0         # with sigma 0.4 the draws decide some jobs


def test_a_given_simulation_is_used_as_the_base_not_run_again(bundles, tmp_path, monkeypatch):
    raw = latency_scenario(bundles, {"dist": "lognormal", "sigma": 0.4}, duration_s=20.0)
    scenario = load_scenario(write(tmp_path, raw))
    base = engine.simulate(scenario, scenario.seed)
    expected = ceiling.scenario_ceilings(scenario)
    calls = []
    simulate = engine.simulate
    monkeypatch.setattr(engine, "simulate",
                        lambda *a, **k: calls.append(k.get("redraw", 0)) or simulate(*a, **k))
    assert ceiling.scenario_ceilings(scenario, base=base) == expected
    assert calls == list(range(1, ceiling.REDRAWS + 1))   # the redraws only


def test_without_variability_there_is_no_ceiling_and_redraws_change_nothing(bundles, tmp_path):
    scenario = load_scenario(write(tmp_path, latency_scenario(bundles)))
    assert not ceiling.has_variability(scenario)
    assert ceiling.scenario_ceilings(scenario) is None
    assert _key(engine.simulate(scenario, redraw=2).records) == \
        _key(engine.simulate(scenario).records)


def test_a_warning_names_each_system_under_the_target():
    lines = ceiling.warnings({"a": 0.55, "b": 0.97, "c": None})
    assert len(lines) == 1 and lines[0].startswith("a: ") and "55.0%" in lines[0]
    assert "--dry-run" in lines[0]
    assert ceiling.warnings(None) == []


def test_dry_run_shows_each_ceiling_and_warns_under_the_target(bundles, tmp_path, capsys):
    from testbed.cli import main
    raw = latency_scenario(bundles, {"dist": "lognormal", "sigma": 0.4}, duration_s=20.0)
    path = write(tmp_path, raw)
    ceilings = ceiling.scenario_ceilings(load_scenario(path))
    assert main(["validate", str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    for name, value in ceilings.items():
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert row.endswith(f"{100 * value:5.1f} %")
    assert out.count("warning: ") == len(ceiling.warnings(ceilings)) >= 1
    assert not (tmp_path / "o").exists()
