"""The calibrated latency model (cost_model: latency): step medians, seeded variability
(deterministic, common random numbers, the configured distribution), the platform file,
field errors, and the bounds staying bounds when executions vary."""

import json
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.bundle import sha256_file
from testbed.errors import ConfigError
from testbed.scenario import load_scenario
from testbed.sim import engine
from testbed.sim.latency import (Draws, LatencyModel, StageGraph, Variability, model_ms,
                                 stage_dists, step_ms)
from tests.toybundle import make_toy_bundle

from .builders import scenario_dict

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tests.linear_stages import CLASSES, SHAPE, linear_stage  # noqa: E402

LATENCY = {"gmacs": 0.05, "launch_ms": 0.5, "node_us": 100.0, "gbps": 0.2}


def graph_bundle(path: Path, method: str = "steppingnet", seed: int = 0) -> Path:
    """A toy bundle whose stage files are real ONNX graphs (so their bytes can be counted)."""
    root = make_toy_bundle(path, method=method, seed=seed)
    manifest = json.loads((root / "manifest.json").read_text())
    rng = np.random.default_rng(seed)
    for k, stage in enumerate(manifest["stages"]):
        chained = k > 0 and manifest["incremental"]
        weight = rng.normal(0, 0.1, (math.prod(SHAPE), CLASSES))
        (root / stage["file"]).write_bytes(linear_stage(weight, chained))
        stage["sha256"] = sha256_file(root / stage["file"])
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("latency")
    return {m: graph_bundle(root / m, m, i) for i, m in enumerate(
        ("steppingnet", "anywidth", "slimmable", "static"))}


def write(tmp_path, raw, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def latency_scenario(bundles, variability=None, **top):
    platform = {"peak_gmacs": 0.05, "latency": {**LATENCY, **({"variability": variability}
                                                             if variability else {})}}
    entries = [{"name": "step", "model": str(bundles["steppingnet"]), "policy": "greedy"},
               {"name": "slim", "model": str(bundles["slimmable"]), "policy": "pick_at_start"}]
    raw = scenario_dict(entries, cost_model="latency", platform=platform)
    raw.update(top)
    return raw


def test_model_ms_is_launch_nodes_and_the_larger_of_compute_and_memory():
    m = LatencyModel(gmacs=2.0, launch_ms=0.1, node_us=5.0, gbps=4.0)
    compute = StageGraph(macs=4_000_000, bytes=1_000_000, nodes=10)   # 2 ms vs 0.25 ms
    memory = StageGraph(macs=1_000_000, bytes=20_000_000, nodes=10)   # 0.5 ms vs 5 ms
    assert model_ms(m, compute) == pytest.approx(0.1 + 0.05 + 2.0)
    assert model_ms(m, memory) == pytest.approx(0.1 + 0.05 + 5.0)
    no_memory = LatencyModel(gmacs=2.0)
    assert model_ms(no_memory, memory) == pytest.approx(0.5)
    to_peak = LatencyModel(gmacs=2.0, scale_to_peak=True)
    assert step_ms(to_peak, (compute,), peak_gmacs=0.5) == pytest.approx((8.0,))


def test_the_start_cost_interpolates_its_table_from_zero_and_stays_flat_beyond():
    from testbed.sim.latency import JobStart, start_ms

    m = LatencyModel(gmacs=2.0, scale=2.0,
                     job_start=(JobStart(gap_ms=1.0, us=10.0), JobStart(gap_ms=4.0, us=40.0)))
    assert start_ms(m, 0.0, 1.0) == 0.0                           # back to back: nothing
    assert start_ms(m, 0.0005, 1.0) == pytest.approx(0.010)       # 5 us, scaled x2
    assert start_ms(m, 0.0025, 1.0) == pytest.approx(0.050)
    assert start_ms(m, 1.0, 1.0) == pytest.approx(0.080)          # flat beyond 4 ms
    assert start_ms(LatencyModel(gmacs=2.0), 1.0, 1.0) == 0.0


def test_a_job_pays_its_start_cost_on_its_first_graph_by_the_idle_gap(bundles, tmp_path):
    """Frames every 10 ms, each job done in well under that: every job starts after the
    same idle gap, so its first graph takes the table's cost at that gap longer; an
    incremental job's later steps and a non-incremental job's one graph as the tables
    say. Policies see the medians."""
    from testbed.sim.latency import start_ms

    raw = latency_scenario(bundles)
    table = [{"gap_ms": 10.0, "us": 2000.0}, {"gap_ms": 200.0, "us": 30000.0}]
    raw["platform"]["latency"]["job_start"] = table
    raw["platform"]["latency"]["later_start"] = [{"gap_ms": 10.0, "us": 500.0}]
    scenario = load_scenario(write(tmp_path, raw))
    model, peak = scenario.platform.latency, scenario.platform.peak_gmacs
    result = engine.simulate(scenario)
    for spec in scenario.systems:
        medians = step_ms(model, spec.graphs, peak)
        events = sorted((e for e in result.events if e.system == spec.name),
                        key=lambda e: e.start_s)
        jobs: dict[int, list] = {}
        for e in events:
            jobs.setdefault(e.job_id, []).append(e)
        free, starts = -math.inf, []
        for job_id in sorted(jobs):
            steps = jobs[job_id]
            extra = start_ms(model, steps[0].start_s - free, peak)
            later = start_ms(model, steps[0].start_s - free, peak, later=True)
            starts.append(extra)
            for i, e in enumerate(steps):
                if not e.completed:
                    continue
                first = i == 0
                # an incremental job's later graphs pay later_start (flat past 10 ms)
                want = medians[e.stage - 1] + (extra if first else later)
                assert (e.end_s - e.start_s) * 1e3 == pytest.approx(want, rel=1e-9), (
                    spec.name, job_id, e.stage)
            free = steps[-1].end_s
        assert min(starts) > 1.0                  # every job paid milliseconds to start
        assert starts[0] == pytest.approx(30.0)   # idle since the start: the table's last
        assert any(len(steps) > 1 for steps in jobs.values()) or \
            not spec.bundle.manifest.incremental   # later graphs were charged, and checked
    assert start_ms(model, 1.0, peak, later=True) == pytest.approx(0.5)


def test_a_latency_scenario_runs_and_charges_the_model_medians(bundles, tmp_path):
    scenario = load_scenario(write(tmp_path, latency_scenario(bundles)))
    spec = scenario.systems[0]
    medians = step_ms(scenario.platform.latency, spec.graphs, scenario.platform.peak_gmacs)
    assert spec.graphs[0].macs == spec.bundle.manifest.stages[0].macs_dense
    assert all(g.bytes > 4 * math.prod(SHAPE) * CLASSES for g in spec.graphs)  # weights counted
    result = engine.simulate(scenario)
    done = [e for e in result.events if e.system == "step" and e.completed]
    assert done
    for e in done:  # constant full budget, no variability: every step takes its median
        assert (e.end_s - e.start_s) * 1e3 == pytest.approx(medians[e.stage - 1], rel=1e-9)


def test_policies_see_the_medians_while_executions_vary(bundles, tmp_path):
    raw = latency_scenario(bundles, {"dist": "lognormal", "sigma": 0.3}, duration_s=20.0)
    scenario = load_scenario(write(tmp_path, raw))
    spec = scenario.systems[0]
    medians = step_ms(scenario.platform.latency, spec.graphs, scenario.platform.peak_gmacs)
    seen = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def choose(self, obs):
            seen.append(obs.work_s)
            return self.inner.choose(obs)
    import dataclasses
    spied = dataclasses.replace(scenario, systems=(dataclasses.replace(
        spec, policy=Spy(spec.policy)),))
    result = engine.simulate(spied)
    assert seen and all(w == pytest.approx(tuple(m / 1e3 for m in medians)) for w in seen)
    ratios = [(e.end_s - e.start_s) * 1e3 / medians[e.stage - 1]
              for e in result.events if e.completed]
    logs = np.log(ratios)
    assert abs(np.median(logs)) < 0.1 and 0.2 < np.std(logs) < 0.4  # configured sigma 0.3


def test_draws_are_deterministic_per_seed_and_independent_of_order():
    dists = stage_dists(Variability("lognormal", 0.2), "b", 3)
    a, b = Draws(7, dists), Draws(7, dists)
    forward = [a.job(j) for j in range(3000)]
    backward = [b.job(j) for j in reversed(range(3000))][::-1]
    assert forward == backward  # the same (seed, job, step) -> the same draw
    assert Draws(8, dists).job(5) != forward[5]
    logs = np.log(np.array(forward))
    assert np.median(logs) == pytest.approx(0.0, abs=0.02)
    assert np.std(logs, axis=0) == pytest.approx([0.2] * 3, rel=0.08)


def test_empirical_draws_follow_the_calibration_samples():
    ratios = [0.9, 1.0, 1.0, 1.1, 3.0]
    data = {"pooled": ratios, "bundles": {"b": [{"index": 1, "sigma": 0.1,
                                                 "ratios": [1.0, 2.0]}]}}
    known = stage_dists(Variability("empirical", 0.0, "x.json", data), "b", 1)
    pooled = stage_dists(Variability("empirical", 0.0, "x.json", data), "other", 2)
    draws = np.array([Draws(1, pooled).job(j) for j in range(4000)])
    assert draws.min() >= 0.9 and draws.max() <= 3.0
    assert np.median(draws) == pytest.approx(1.0, abs=0.02)
    assert np.mean(draws > 1.1) == pytest.approx(0.25, abs=0.03)  # the top quarter: 1.1..3
    one = np.array([Draws(1, known).job(j)[0] for j in range(2000)])
    assert one.min() >= 1.0 and one.max() <= 2.0 and np.median(one) == pytest.approx(1.5, abs=0.05)


def test_macs_scenarios_draw_nothing(bundles, tmp_path):
    import simpy

    from testbed.sim.outcomes import replay_outcomes
    from testbed.sim.processor import Processor
    raw = latency_scenario(bundles, {"dist": "lognormal", "sigma": 0.3}, cost_model="macs")
    scenario = load_scenario(write(tmp_path, raw))
    spec = scenario.systems[0]
    assert spec.graphs is None
    proc = Processor(simpy.Environment(), scenario, spec, 1, engine.make_trace(scenario),
                     replay_outcomes(spec.bundle), None, None)
    assert proc.draws is None


def test_a_platform_file_gives_defaults_that_the_scenario_overrides(bundles, tmp_path):
    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "host_samples.json").write_text(json.dumps(
        {"pooled": [0.9, 1.0, 1.2], "bundles": {}}))
    (tmp_path / "platforms" / "host.yaml").write_text(yaml.safe_dump(
        {"peak_gmacs": 0.05, "monitor_ms": 1.0,
         "latency": {**LATENCY, "variability": {"dist": "empirical",
                                                "file": "host_samples.json"}}}))
    raw = latency_scenario(bundles)
    raw["platform"] = {"file": "platforms/host.yaml", "monitor_ms": 0.5,
                       "latency": {"launch_ms": 1.0}}
    platform = load_scenario(write(tmp_path, raw)).platform
    assert platform.monitor_ms == 0.5 and platform.latency.launch_ms == 1.0
    assert platform.latency.gmacs == LATENCY["gmacs"]
    assert platform.latency.variability.data["pooled"] == [0.9, 1.0, 1.2]


@pytest.mark.parametrize("platform, field", [
    ({"peak_gmacs": 1}, "platform.latency"),
    ({"peak_gmacs": 1, "latency": {"launch_ms": 1}}, "platform.latency.gmacs"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "gbps": 0}}, "platform.latency.gbps"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "bogus": 0}}, "platform.latency.bogus"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "variability": {"dist": "gamma"}}},
     "platform.latency.variability.dist"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "variability": {"dist": "empirical"}}},
     "platform.latency.variability.file"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "variability": {"dist": "lognormal"}}},
     "platform.latency.variability.sigma"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "variability": {"dist": "empirical",
                                                              "file": "none.json"}}},
     "platform.latency.variability.file"),
    ({"file": "none.yaml"}, "platform.file"),
    ({"file": 3}, "platform.file"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "job_start": [{"gap_ms": 2, "us": 1},
                                                            {"gap_ms": 1, "us": 3}]}},
     "platform.latency.job_start"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "job_start": [{"gap_ms": 1, "us": -1}]}},
     "platform.latency.job_start.0.us"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "job_start": [{"gap_ms": 0, "us": 1}]}},
     "platform.latency.job_start.0.gap_ms"),
    ({"peak_gmacs": 1, "latency": {"gmacs": 1, "block": 12}}, "platform.latency.block"),
])
def test_bad_latency_fields_are_named(bundles, tmp_path, platform, field):
    raw = latency_scenario(bundles)
    raw["platform"] = platform
    with pytest.raises(ConfigError, match=r"s\.yaml: " + re.escape(field) + ": expected"):
        load_scenario(write(tmp_path, raw))


def test_a_bad_platform_file_names_itself_and_its_field(bundles, tmp_path):
    (tmp_path / "p.yaml").write_text("peak_gmacs: 1\nlatency: {gmacs: -2}\n")
    raw = latency_scenario(bundles)
    raw["platform"] = {"file": "p.yaml"}
    with pytest.raises(ConfigError, match=r"p\.yaml: latency\.gmacs: expected a number > 0"):
        load_scenario(write(tmp_path, raw))


def test_a_bundle_whose_graphs_cannot_be_read_is_named(tmp_path):
    toy = make_toy_bundle(tmp_path / "toy")  # placeholder stage files, not ONNX
    raw = scenario_dict([{"name": "t", "model": str(toy), "policy": "greedy"}],
                        cost_model="latency", platform={"peak_gmacs": 1,
                                                        "latency": {"gmacs": 1}})
    with pytest.raises(ConfigError, match=r"systems\.0\.model: expected a bundle whose stage"):
        load_scenario(write(tmp_path, raw))


ONLINE = {"incremental": ["greedy", "deadline_aware", {"name": "fixed", "k": 2},
                          {"name": "deadline_aware", "margin": 0.5, "ewma_alpha": 0.01}],
          "non_incremental": ["pick_at_start", {"name": "pick_at_start", "restart": True},
                              "safe_first", {"name": "fixed", "k": 3}]}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["steppingnet", "slimmable"]), start=st.floats(0.2, 1.0),
       sigma=st.floats(0.05, 0.6), deadline_ms=st.integers(3, 30), seed=st.integers(0, 1000))
def test_the_budget_oracle_stays_a_bound_when_executions_vary(bundles, method, start, sigma,
                                                              deadline_ms, seed):
    kind = "incremental" if method == "steppingnet" else "non_incremental"
    entries = [{"name": "bound", "model": str(bundles[method]), "policy": "budget_oracle"}]
    entries += [{"name": f"p{i}", "model": str(bundles[method]), "policy": p}
                for i, p in enumerate(ONLINE[kind])]
    raw = scenario_dict(entries, seed=seed, duration_s=2.0, cost_model="latency",
                        platform={"peak_gmacs": 0.5, "latency": {  # steps of 5-12 ms
                            **LATENCY, "gmacs": 0.5, "launch_ms": 2.0, "node_us": 800.0,
                            "variability": {"dist": "lognormal", "sigma": sigma}}},
                        budget={"kind": "random_walk", "start": start, "sigma": 0.2,
                                "step_ms": 5, "low": 0.0, "high": 1.0},
                        workload=[{"name": "c", "kind": "periodic", "period_ms": 33.3,
                                   "jitter_ms": 1.0, "deadline_ms": deadline_ms}])
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for r in engine.simulate(load_scenario(write(Path(tmp), raw))).records:
            rows.setdefault(r.system, []).append(r)
    for name, recs in rows.items():
        for b, r in zip(rows["bound"], recs):
            assert b.quality >= r.quality - 1e-12, (name, b, r)
            assert b.hit or not r.hit, (name, b, r)


def conv_stats(c_in: int, c_out: int, kernel: int, side: int):
    """The latency model's figures of a graph of one Conv (no bias) on a ``side``² input."""
    from testbed.calibrate.graphs import graph_stats
    weight = np.zeros((c_out, c_in, kernel, kernel), np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w")])
    return graph_stats(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.parametrize("channels, kernel, expands", [(3, 3, False), (18, 3, True),
                                                        (16, 3, False), (18, 1, False)])
def test_im2col_bytes_count_only_convolutions_run_as_im2col(channels, kernel, expands):
    """ONNX Runtime's CPU provider expands the input (im2col) only for a Conv with at
    least 16 input channels, not a multiple of 4, and a kernel larger than 1x1."""
    stats = conv_stats(channels, 4, kernel, 10)
    side = 10 - kernel + 1
    assert stats.expand == (channels * kernel * kernel * side * side * 4 if expands else 0)
    assert stats.macs == 4 * channels * kernel * kernel * side * side
    assert stats.io == 2 and stats.nodes == 1


@pytest.mark.parametrize("c_in, c_out, kernel, kernel_macs_per_position", [
    (3, 1, 5, 3 * 16 * 25),    # NCHW input, output padded to one block of 16
    (3, 16, 3, 3 * 16 * 9),    # exact block: no padding
    (24, 9, 3, 32 * 16 * 9),   # blocked input (multiple of 4) padded too
    (18, 9, 3, 18 * 9 * 9),    # im2col (>= 16, not a multiple of 4): as counted
    (8, 20, 1, 8 * 32 * 1),    # 1x1 in the blocked kernels: padded as well
])
def test_kernel_macs_count_the_channel_padding_of_blocked_convolutions(
        c_in, c_out, kernel, kernel_macs_per_position):
    """ONNX Runtime's blocked NCHWc kernels compute whole blocks of 16 output channels (and
    of input channels once they come blocked): a stage adding one filter pays for 16."""
    stats = conv_stats(c_in, c_out, kernel, 12)
    positions = (12 - kernel + 1) ** 2
    assert stats.macs == c_in * c_out * kernel * kernel * positions
    assert stats.kernel_macs == kernel_macs_per_position * positions
    assert stats.compute_macs == stats.kernel_macs


def test_padded_model_charges_kernel_macs_and_unpadded_the_dense_ones():
    graph = StageGraph(macs=1_000_000, bytes=1, nodes=1, kernel_macs=3_000_000)
    padded = LatencyModel(gmacs=1.0)
    dense = LatencyModel(gmacs=1.0, padded=False)
    assert model_ms(padded, graph) == pytest.approx(3.0)
    assert model_ms(dense, graph) == pytest.approx(1.0)
    assert model_ms(padded, StageGraph(macs=1_000_000, bytes=1, nodes=1)) == pytest.approx(1.0)


@pytest.mark.parametrize("c_in, c_out, kernel, per_position_8, expands_8", [
    (3, 1, 5, 3 * 8 * 25, False),    # NCHW input, output padded to one block of 8
    (3, 9, 3, 3 * 16 * 9, False),    # 9 filters: two blocks of 8
    (12, 4, 3, 16 * 8 * 9, False),   # blocked input (multiple of 4) padded to 16
    (10, 4, 3, 10 * 4 * 9, True),    # 10 channels: one block or more, not a multiple of 4
])
def test_an_avx2_host_blocks_channels_by_8(c_in, c_out, kernel, per_position_8, expands_8):
    """With AVX2 ONNX Runtime's NCHWc block is 8 floats, not 16: every graph is counted
    for both, and the latency model's ``block`` picks one."""
    stats = conv_stats(c_in, c_out, kernel, 12)
    positions = (12 - kernel + 1) ** 2
    eight = stats.at_block(8)
    assert eight.kernel_macs == per_position_8 * positions
    assert (eight.expand > 0) == expands_8 and stats.expand == 0   # 10 < 16: blocked
    assert stats.at_block(16) == stats and stats.at_block(4) == stats  # uncounted: as is
    # the model charges the block it was calibrated with (1 GMAC/s: MACs / 1e6 ms)
    assert model_ms(LatencyModel(gmacs=1.0, block=8), stats) == \
        pytest.approx(eight.kernel_macs / 1e6)
    assert model_ms(LatencyModel(gmacs=1.0), stats) == pytest.approx(stats.kernel_macs / 1e6)
