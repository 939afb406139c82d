"""testbed.api: the worked example of docs/api.md runs as written (on the shipped
scenario, 2 s and 2 seeds), and each function does what its docstring says (toy bundles)."""

import dataclasses
import re
import types
from pathlib import Path

import pytest
import yaml

from testbed import api
from testbed.errors import ConfigError, TestbedError
from testbed.report.metrics import METRICS
from tests.report.test_run_command import SCENARIO
from tests.toybundle import make_toy_models

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_OUT = "/tmp/testbed-api-example"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_worked_example_in_docs_runs(tmp_path, monkeypatch, capsys):
    blocks = code_blocks((ROOT / "docs" / "api.md").read_text())
    assert len(blocks) == 2 and EXAMPLE_OUT in blocks[0]
    monkeypatch.chdir(ROOT)  # the example reads scenarios/ relative to the repository
    out = tmp_path / "example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.replace(EXAMPLE_OUT, str(out)), "docs/api.md", "exec"), namespace)
    written = namespace["written"]
    assert written.out == out and written.jobs_file == "jobs_sample.csv"
    assert {"metrics.json", "report.md", "jobs_sample.csv"} <= {p.name for p in out.iterdir()}
    assert written.run.seeds == (1, 2) and written.report.command == ""
    mine = namespace["mine"]
    assert mine.seed == 7 and names(mine) == ["steppingnet"] and mine.duration_s == 2
    printed = capsys.readouterr().out
    assert "steppingnet runs" in printed and "vs steppingnet" in printed


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("api")
    make_toy_models(root)
    (root / "toy.yaml").write_text(SCENARIO)
    return root / "toy.yaml"


def names(scenario) -> list[str]:
    return [s.name for s in scenario.systems]


@pytest.mark.parametrize("text,expected", [
    ("a.b=1.0", ("a.b", 1.0)), ("x=true", ("x", True)), ("m=[0, 0.5]", ("m", [0, 0.5])),
    ("p={name: pick_at_start, margin: 1}", ("p", {"name": "pick_at_start", "margin": 1})),
    ("s=a=b", ("s", "a=b")), ("n=null", ("n", None)),
])
def test_parse_set_reads_the_value_as_yaml(text, expected):
    assert api.parse_set(text) == expected


@pytest.mark.parametrize("text", ["", "x", "=1", "a b=1", "x=", "x=[1,"])
def test_parse_set_refuses_what_is_not_path_equals_yaml(text):
    with pytest.raises(TestbedError, match="--set"):
        api.parse_set(text)


def test_load_a_file_or_a_dict_with_a_base(toy):
    from_file = api.load(toy, overrides={"workload.emergency.rate_hz": 1})
    raw = yaml.safe_load(SCENARIO)
    from_dict = api.load(raw, base=toy.parent, overrides=["workload.emergency.rate_hz=1"])
    assert from_dict.workload == from_file.workload and names(from_dict) == names(from_file)
    assert from_dict.path == toy.parent / "<dict>" and raw == yaml.safe_load(SCENARIO)
    with pytest.raises(TestbedError, match="needs base=FOLDER"):
        api.load(raw)
    with pytest.raises(ConfigError, match="<dict>: systems.0.model: expected a model bundle"):
        api.load(raw, base=toy.parent / "elsewhere")


def test_seed_and_duration_win_over_overrides(toy):
    sc = api.load(toy, overrides=["seed=5", "duration_s=3"], seed=9, duration_s=0.5)
    assert (sc.seed, sc.duration_s) == (9, 0.5)


def test_override_names_list_items_and_keeps_earlier_edits(toy):
    sc = api.load(toy, overrides=["workload.camera.deadline_ms=25"])
    sc = api.override(sc, {"systems.slim.policy": {"name": "fixed", "k": 2},
                           "systems.0.policy.margin": 0.25})
    assert sc.workload[0].deadline_ms == 25
    assert type(sc.systems[2].policy).__name__ == "Fixed" and sc.systems[2].policy.k == 2
    assert sc.systems[0].policy.margin == 0.25
    with pytest.raises(ConfigError, match=r"toy.yaml: systems.nosuch.policy: expected a key, "
                       r"list index or item name present in the scenario"):
        api.override(sc, {"systems.nosuch.policy": "greedy"})


def test_select_keeps_order_moves_the_reference_and_survives_an_override(toy):
    full = api.load(toy)
    two = api.select(full, ["slim", 1])
    assert names(two) == ["greedy", "slim"] and two.reference == "greedy"
    assert two.quality_bar == full.quality_bar
    again = api.override(two, {"workload.camera.deadline_ms": 20})
    assert names(again) == ["greedy", "slim"] and again.reference == "greedy"
    assert again.quality_bar == full.quality_bar and again.workload[0].deadline_ms == 20
    assert names(api.load(toy, systems=["stepping"])) == ["stepping"]
    with pytest.raises(TestbedError, match=r"unknown system 'x': toy.yaml has stepping, "
                       r"greedy, slim \(or an index 0-2\)"):
        api.select(full, ["x"])
    with pytest.raises(TestbedError, match="at least one system"):
        api.select(full, [])


def test_simulate_and_table(toy, monkeypatch):
    sc = api.load(toy, duration_s=0.5)
    run = api.simulate(sc, seeds=api.evaluation_seeds(sc, 2))
    assert run.seeds == (3, 4) and list(run.summaries) == names(sc)
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    rows = api.table(run)
    assert rows == api.table_rows(run) and [r["system"] for r in rows] == names(sc)
    ref, other = rows[0], rows[1]
    assert ref["reference"] and ref["hit_rate_diff"] is None and ref["policy"] == "deadline_aware"
    hit = run.summaries["greedy"].metrics["hit_rate"]
    assert other["hit_rate"] == hit.mean and other["hit_rate_ci95"] == hit.half_width
    d = [a - b for a, b in zip(hit.values, run.summaries["stepping"].metrics["hit_rate"].values)]
    assert other["hit_rate_diff"] == pytest.approx(sum(d) / 2)
    assert set(api.TABLE_METRICS) <= set(METRICS) and set(api.PAIRED_METRICS) <= set(METRICS)
    fake = types.SimpleNamespace(DataFrame=lambda data: ("frame", data))
    monkeypatch.setitem(__import__("sys").modules, "pandas", fake)
    assert api.table(run) == ("frame", rows)


def test_write_report_checks_everything_before_writing(toy, tmp_path):
    sc = api.load(toy, duration_s=0.5)
    out = tmp_path / "r"
    with pytest.raises(TestbedError, match="jobs: expected one of full, sample, none"):
        api.write_report(sc, out, jobs="some")
    with pytest.raises(TestbedError, match="tuning seeds"):
        api.write_report(sc, out, seeds=[1_000_000])
    with pytest.raises(ConfigError, match="deadline_ms"):
        api.write_report(sc, out, deadlines=[-5])
    assert not out.exists()
    written = api.write_report(sc, out, deadlines=[10], jobs="none", command="mine")
    assert written.jobs_file is None and not (out / "jobs.csv").exists()
    assert written.report.command == "mine" and [d for d, _ in written.report.curve] == [10.0]
    assert dataclasses.asdict(written.run.scenario.systems[0].policy) == \
        dataclasses.asdict(sc.systems[0].policy)
