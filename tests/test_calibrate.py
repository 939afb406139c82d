"""`testbed calibrate`: the fit recovers known parameters from synthetic noisy profiles,
and a real run on a small shipped bundle writes a platform file a scenario can use, the
samples file, calibration.json, report.md and the plot."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from testbed.calibrate.fit import fit_latency, nnls
from testbed.cli import main
from testbed.sim.platform import load_platform

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "lenet5-cifar10-steppingnet"


TRUTH = {"launch_ms": 0.2, "node_us": 4.0, "io_us": 10.0, "gmacs": 5.0, "gbps": 10.0,
         "expand_gbps": 3.0}


def synthetic(rng, n=80, noise=0.03):
    """Graphs in both regimes and their latencies under known parameters (+ noise)."""
    nodes = rng.integers(5, 60, n).astype(float)
    io = rng.integers(2, 12, n).astype(float)
    macs = np.exp(rng.uniform(np.log(1e4), np.log(2e7), n))  # tiny (launch-bound) to large
    bytes_ = np.exp(rng.uniform(np.log(1e4), np.log(4e7), n))
    expand = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 3e6, n))
    t = TRUTH
    ms = (t["launch_ms"] + (nodes * t["node_us"] + io * t["io_us"]) / 1e3
          + np.maximum(macs / (t["gmacs"] * 1e6), bytes_ / (t["gbps"] * 1e6))
          + expand / (t["expand_gbps"] * 1e6))
    return nodes, macs, bytes_, expand, io, ms * np.exp(rng.normal(0, noise, n))


def test_the_fit_recovers_known_parameters_from_noisy_profiles():
    rng = np.random.default_rng(1)
    nodes, macs, bytes_, expand, io, ms = synthetic(rng)
    ms[:3] *= [4.0, 0.3, 6.0]  # outliers must not pull the fit
    fit = fit_latency(nodes, macs, bytes_, ms, expand, io)
    for key, want in TRUTH.items():
        assert getattr(fit, key) == pytest.approx(want, rel=0.2), key
    assert fit.median_error < 0.05
    assert np.median(np.abs(fit.predict(nodes, macs, bytes_, expand, io) / ms - 1)) < 0.05


def test_the_fit_finds_no_memory_term_where_nothing_is_memory_bound():
    rng = np.random.default_rng(2)
    nodes, macs, bytes_, _, _, _ = synthetic(rng)
    ms = 0.1 + macs / 4e6
    fit = fit_latency(nodes, macs, bytes_ * 1e-3, ms)
    assert fit.gmacs == pytest.approx(4.0, rel=0.02)
    assert fit.launch_ms == pytest.approx(0.1, rel=0.05)
    assert fit.median_error < 0.01


def test_nnls_keeps_coefficients_non_negative_and_exact_when_feasible():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert nnls(a, a @ np.array([2.0, 3.0])) == pytest.approx([2.0, 3.0])
    assert np.all(nnls(a, np.array([-1.0, 2.0, 1.0])) >= 0)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_calibrate_writes_a_usable_platform_and_its_report(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    before = os.sched_getaffinity(0)
    out = tmp_path / "platforms" / "host.yaml"
    code = main(["calibrate", str(BUNDLE), "--out", str(out), "--report", str(tmp_path / "r"),
                 "--warmup", "1", "--repeats", "5", "--quiet", "--probe-s", "0.05"])
    assert code == 0 and os.sched_getaffinity(0) == before  # pinning undone
    assert "median error" in capsys.readouterr().out
    host = json.loads((tmp_path / "r" / "calibration.json").read_text())["host"]
    assert set(host["probe"]) == {"before", "after"} and host["probe"]["after"]["loops"] > 0
    assert "Core steadiness around the measurement" in (tmp_path / "r" / "report.md").read_text()
    text = out.read_text()
    assert text.startswith("# Calibrated latency model") and "# command: " in text
    platform = load_platform({"file": "platforms/host.yaml"}, tmp_path / "s.yaml", "latency")
    assert platform.latency.variability.dist == "empirical"
    measured = json.loads((tmp_path / "r" / "calibration.json").read_text())["job_start"]
    assert [p.us for p in platform.latency.job_start] == pytest.approx(
        [p["us"] for p in measured], rel=1e-5)
    assert [p.gap_ms for p in platform.latency.job_start] == [1.0, 2.0, 4.0, 8.0]
    assert all(len(p["bundles"][BUNDLE.name]) == 3 for p in measured)
    assert platform.peak_gmacs == platform.latency.gmacs > 0
    assert platform.latency.padded is True and "padded: true" in text  # fitted on kernel MACs
    cal = json.loads((tmp_path / "r" / "calibration.json").read_text())
    # the channel block the fit chose is the file's, from the two it tried
    assert platform.latency.block == cal["model"]["block"] == min(
        cal["blocks"], key=lambda b: b["median_error"])["block"]
    assert f"block: {platform.latency.block}" in text and len(cal["blocks"]) == 2
    # an incremental bundle's later stages are timed in the paced jobs too, and reported
    assert [p["gap_ms"] for p in cal["later_start"]] == [1.0, 2.0, 4.0, 8.0]
    assert [p.gap_ms for p in platform.latency.later_start] == [1.0, 2.0, 4.0, 8.0]
    assert all(p.us >= 0 for p in platform.latency.later_start)
    assert set(cal["later_start"][0]["bundles"]) == {BUNDLE.name}
    assert "Later graphs of the same paced jobs" in (tmp_path / "r" / "report.md").read_text()
    samples = json.loads((out.parent / "host_samples.json").read_text())
    stages = samples["bundles"][BUNDLE.name]
    assert len(stages) == 4 and all(len(s["ratios"]) == 5 for s in stages)
    cal = json.loads((tmp_path / "r" / "calibration.json").read_text())
    assert [s["index"] for s in cal["stages"]] == [1, 2, 3, 4]
    for row in cal["stages"] + cal["subnets"]:
        assert row["bundle"] == BUNDLE.name and row["predicted_ms"] > 0 < row["measured_ms"]
        assert row["samples"] == 5 and row["kernel_macs"] >= row["macs"]
    assert any(r["kernel_macs"] > r["macs"] for r in cal["stages"])  # stages that pad
    assert {r["kind"] for r in cal["subnets"]} == {"monolithic", "chained"}
    assert 0 <= cal["errors"]["stage"]["median"] <= cal["errors"]["stage"]["worst"]
    assert cal["host"]["core"] in before and "loadavg_before" in cal["host"]
    assert (tmp_path / "r" / "predicted_vs_measured.png").stat().st_size > 1000
    assert "| stage | 1 |" in (tmp_path / "r" / "report.md").read_text().replace(
        f"| {BUNDLE.name} ", "|")


def test_job_start_is_stage_1_after_a_gap_minus_its_rerun_median_over_bundles():
    from testbed.calibrate.measure import Graph
    from testbed.calibrate.run import job_start
    from testbed.sim.latency import StageGraph

    part = (StageGraph(macs=1, bytes=1, nodes=1),)
    graphs = []
    for name, warm, cold1, cold4 in (("a", 0.050, 0.056, 0.070), ("b", 0.100, 0.104, 0.112),
                                     ("c", 0.020, 0.030, 0.025)):
        graphs += [Graph(name, "stage", 1, part, [9.0] * 5),   # back to back: not used
                   Graph(name, "rerun", 1, part, [warm] * 5, 1.0),
                   Graph(name, "rerun", 1, part, [warm] * 5, 4.0),
                   Graph(name, "paced", 1, part, [cold1 - 0.001, cold1, cold1 + 0.002], 1.0),
                   Graph(name, "paced", 1, part, [cold4] * 3, 4.0)]
    got = job_start(graphs)
    assert [p["gap_ms"] for p in got] == [1.0, 4.0]
    assert got[0]["us"] == pytest.approx(6.0)                     # median of 6, 4, 10
    assert got[1]["us"] == pytest.approx(12.0)                    # median of 20, 12, 5
    assert got[0]["bundles"]["c"]["us"] == pytest.approx(10.0)
    faster = [Graph("a", kind, 1, part, [value if kind == "paced" else 0.05], gap)
              for gap, value in ((1.0, 0.04), (2.0, 0.06), (4.0, 0.055))
              for kind in ("paced", "rerun")]
    assert [p["us"] for p in job_start(faster)] == pytest.approx([0.0, 10.0, 10.0])
    #                                   never negative, never below a shorter gap's point


def test_calibrate_measures_toy_graphs_it_cannot_unfold(tmp_path):
    """Stage graphs of another format (here: one MatMul each) are timed as stages and
    chains; only the monolithic subnets, rebuilt by unfolding the stages, are skipped."""
    pytest.importorskip("onnxruntime")
    from testbed.calibrate.run import calibrate
    from tests.sim.test_latency import graph_bundle
    bundles = [graph_bundle(tmp_path / m, m, i) for i, m in enumerate(("anywidth", "static"))]
    res = calibrate(bundles, tmp_path / "toy.yaml", warmup=0, repeats=3, progress=False)
    kinds = {(r["bundle"], r["kind"]) for r in res["stages"] + res["subnets"]}
    names = [json.loads((b / "manifest.json").read_text())["name"] for b in bundles]
    assert kinds == {(names[0], "stage"), (names[0], "chained"), (names[1], "stage")}
    assert (tmp_path / "toy-calibration" / "report.md").is_file()
    assert res["held_out"]["n"] == 8


@pytest.mark.parametrize("args, message", [
    (["--out", "p.txt"], "ending in .yaml"),
    (["--out", "p.yaml", "--repeats", "1"], "--repeats"),
    (["--out", "p.yaml", "--core", "4096"], "--core 4096"),
    (["--out", "p.yaml", "--probe-s", "-1"], "--probe-s"),
])
def test_bad_calibrate_arguments_end_in_one_line(tmp_path, capsys, args, message):
    args = [a if a not in ("p.txt", "p.yaml") else str(tmp_path / a) for a in args]
    assert main(["calibrate", str(BUNDLE), *args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "p.yaml").exists()


def test_the_simple_model_ships_dense_macs(tmp_path):
    """--simple fits launch + max(dense MACs, memory); its platform file says `padded:
    false`, so the simulator charges dense MACs as the fit did."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "platforms" / "host.yaml"
    assert main(["calibrate", str(BUNDLE), "--out", str(out), "--report", str(tmp_path / "r"),
                 "--warmup", "1", "--repeats", "3", "--quiet", "--simple"]) == 0
    platform = load_platform({"file": "platforms/host.yaml"}, tmp_path / "s.yaml", "latency")
    assert platform.latency.padded is False and "padded: false" in out.read_text()
    cal = json.loads((tmp_path / "r" / "calibration.json").read_text())
    assert cal["model"]["padded"] is False and cal["simple_model"]["padded"] is False


def test_bundles_are_timed_in_turns_of_a_few_rounds_each(monkeypatch):
    """A slow spell of the host lasts tens of ms: every bundle takes turns of BLOCK rounds
    (after one untimed round), so a spell falls on all of them, not on one bundle's block
    of a thousand rounds; each bundle still runs its own graphs back to back."""
    from testbed.calibrate import measure
    calls = []

    def fake(path):
        graphs = [measure.Graph(path, "stage", k, ()) for k in (1, 2)]
        fns = [lambda k=k: calls.append((path, k)) for k in (1, 2)]
        return measure.Prepared(graphs, fns, fns[0], lambda: None)

    monkeypatch.setattr(measure, "prepare", fake)
    monkeypatch.setattr(measure, "GAPS_MS", ())
    graphs = measure.graphs_timed(["a", "b"], warmup=2, repeats=25, progress=None)
    assert [len(g.samples_ms) for g in graphs] == [25] * 4
    order = [p for p, k in calls if k == 1]
    turns = [order[0]]
    for p in order[1:]:
        if p != turns[-1]:
            turns.append(p)
    assert turns == ["a", "b"] + ["a", "b"] * 3   # warm-up, then three turns each
    # warm-up 2, then turns of 1 untimed + 10, 10, 5 timed rounds
    assert len(order) == 2 * (2 + 11 + 11 + 6)


@pytest.mark.parametrize("truth", [8, 16])
def test_calibration_picks_the_channel_block_that_explains_the_timings(truth):
    """Graphs timed on a host whose kernels pad channels to blocks of ``truth``: the fit
    with that block explains them, the other does not, and calibration keeps it."""
    from testbed.calibrate.measure import Graph
    from testbed.calibrate.run import _block_errors, at_block
    from testbed.sim.latency import StageGraph
    rng = np.random.default_rng(3)
    graphs = []
    for i in range(30):
        macs = int(rng.uniform(1e5, 5e6))
        pad = {8: int(rng.uniform(0, 2e6)), 16: int(rng.uniform(0, 6e6))}
        part = StageGraph(macs, 1000, 10, 0, 2, blocks=tuple(
            (b, macs + pad[b], 0) for b in (8, 16))).at_block(16)
        ms = 0.01 + (macs + pad[truth]) / 40e6
        graphs.append(Graph("b", "stage", i, (part,), list(ms * rng.normal(1, 0.01, 9))))
    errors = _block_errors(graphs)
    assert min(errors, key=errors.get) == truth
    assert errors[truth] < 0.02 < errors[24 - truth]
    assert at_block(graphs, truth)[0].parts[0].kernel_macs == \
        graphs[0].parts[0].at_block(truth).kernel_macs


def test_later_start_is_what_a_gap_costs_the_later_graphs_of_a_job():
    from testbed.calibrate.measure import Graph
    from testbed.calibrate.run import job_start, later_start
    from testbed.sim.latency import StageGraph
    part = (StageGraph(macs=1, bytes=1, nodes=1),)
    graphs = []
    for name, extra in (("a", (0.010, 0.030)), ("b", (0.020, 0.020)), ("c", (0.0, 0.002))):
        graphs += [Graph(name, "rerun", k, part, [0.1 * k] * 3, 1.0) for k in (1, 2, 3)]
        graphs += [Graph(name, "paced", 1, part, [0.1 + 0.005] * 3, 1.0)]
        graphs += [Graph(name, "paced", k, part, [0.1 * k + e] * 3, 1.0)
                   for k, e in zip((2, 3), extra)]
    [point] = later_start(graphs)
    assert point["gap_ms"] == 1.0
    assert point["bundles"] == pytest.approx({"a": 20.0, "b": 20.0, "c": 1.0})
    assert point["us"] == pytest.approx(20.0)            # the median over bundles
    assert job_start(graphs)[0]["us"] == pytest.approx(5.0)   # stage 1 only, as before
    assert later_start([g for g in graphs if g.index == 1]) == []   # no later stages


def test_a_paced_stage_is_judged_against_its_rerun_in_the_same_jobs():
    """A host twice as slow while the paced jobs ran: against the back-to-back rounds
    (fast) the gap would seem to cost 110-120 µs; against the stage run again right after
    it in the same jobs, it costs what it costs."""
    from testbed.calibrate.measure import Graph
    from testbed.calibrate.run import job_start, later_start
    from testbed.sim.latency import StageGraph
    part = (StageGraph(macs=1, bytes=1, nodes=1),)
    graphs = [Graph("a", "stage", k, part, [0.1] * 3) for k in (1, 2)]
    graphs += [Graph("a", "paced", k, part, [0.2 + 0.01 * k] * 3, 1.0) for k in (1, 2)]
    graphs += [Graph("a", "rerun", k, part, [0.2] * 3, 1.0) for k in (1, 2)]
    assert job_start(graphs)[0]["us"] == pytest.approx(10.0)
    assert later_start(graphs)[0]["us"] == pytest.approx(20.0)
