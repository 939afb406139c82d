"""What a newcomer gets: every shipped bundle is intact (checksums, eval record, stage
files) and every shipped scenario runs for a short while on the shipped bundles."""

from pathlib import Path

import pytest

from testbed.bundle import load_bundle
from testbed.scenario import load_scenario
from testbed.sim.engine import simulate

from tests.records import assert_records_agree

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = sorted(p.parent for p in (ROOT / "models").glob("*/manifest.json"))
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_the_default_bundles_are_shipped():
    names = {p.name for p in BUNDLES}
    for method in ("steppingnet", "anywidth", "slimmable", "static"):
        assert f"lenet3c1l-cifar10-{method}" in names


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_shipped_bundle_checksums_and_records(bundle):
    b = load_bundle(bundle, verify=True)
    m = b.manifest
    assert m.training.get("command", "").startswith("testbed train ")
    assert [s.accuracy for s in m.stages] == pytest.approx(list(b.eval.accuracy()), abs=1e-9)
    assert (bundle / "profile.json").is_file()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_runs(scenario):
    sc = load_scenario(scenario, duration_s=3.0)
    result = simulate(sc)
    assert set(result.systems) == {s.name for s in sc.systems}
    for spec in sc.systems:
        rows = [r for r in result.records if r.system == spec.name]
        k = spec.bundle.manifest.num_stages
        assert rows and all(0 <= r.result_stage <= k for r in rows)
        name = spec.name
        assert any(r.hit for r in rows), f"{scenario.name}: {name} never met a deadline"


def test_live_mode_on_the_real_images_agrees_with_the_replay():
    from testbed.sim.live import LiveRunner
    sc = load_scenario(ROOT / "scenarios" / "autonomous_brake.yaml", duration_s=2.0)
    replay = simulate(sc)
    live = simulate(sc, live=LiveRunner(ROOT.parent / "shared" / "data"))
    assert_records_agree(live.records, replay.records)
    assert live.live_agreement and all(v == 1.0 for v in live.live_agreement.values())
