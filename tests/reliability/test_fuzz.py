"""Hostile input (issue 9, item 3): seeded mutations of scenario YAML, trace CSV,
manifest.json and ONNX stage files, fed to the CLI in-process.

Every case must end either normally (the mutation left the input valid: exit 0, a
complete report) or in a clean rejection: exit 2, one line on stderr naming the file, no
traceback, no hang (a wall-clock alarm), and no output written. A few cases run the real
program in a subprocess to check the same from the outside. The number of cases of each
kind is in ``CASES`` (the README quotes the total).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import testbed.report.writers as writers
from tests.reliability.conftest import ROOT, base_scenario
from tests.reliability.hostile import (call_cli, dump_yaml, mutate_bytes, mutate_data,
                                       mutate_text, problem)

CASES = {"scenario": 90, "trace": 60, "manifest": 60, "onnx": 40}
EXTREMES = {  # well-typed values that ask for an endless run: each once crashed numpy
    "workload.0.deadline_ms": 1e308, "workload.0.period_ms": 1e308, "duration_s": 1e308,
    "workload.1.rate_hz": 1e308, "platform.peak_gmacs": 1e-300,
    "platform.stage_overhead_ms": 1e308, "budget.bursts.0.rate_hz": 1e308,
    "faults.stalls.1.rate_hz": 1e308, "faults.dropouts.rate_hz": 1e308,
    "faults.bursts.period_ms": 1e-300, "faults.stalls.0.at_s.0": 1e308,
    "faults.budget_signal.step_ms": 1e-300, "faults.stalls.1.duration_ms": 1e308,
    "faults.stage_failures.stages.0": 10 ** 30, "seed": 2 ** 70}
ESCAPES = ("../stage_1.onnx", "../../outside.onnx", "/tmp/outside.onnx", "sub/stage_1.onnx",
           "..", ".", "", "./stage_1.onnx", "stage_1.onnx/", "~/stage_1.onnx",
           "stage_1.onnx\x00.txt", "stage_1", "x" * 300 + ".onnx")


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    """Figures say nothing about input handling and take a second each: skip them."""
    monkeypatch.setattr(writers, "write_figures", lambda folder, report: {})


def check(outcome, names, out: Path, tally: dict, label: str, failures: list) -> None:
    """A clean end: exit 0 with a report, or a clean rejection with nothing written."""
    if outcome.code == 0:
        tally["accepted"] += 1
        if not (out / "metrics.json").is_file():
            failures.append(f"{label}: exit 0 but no report in {out}")
        return
    tally["rejected"] += 1
    why = problem(outcome, names)
    if why is None and out.exists():
        why = f"rejected, but {out} was written"
    if why:
        failures.append(f"{label}: {why}")


def run_cases(kind: str, make_case) -> dict:
    """Run CASES[kind] cases; ``make_case(i, rng)`` returns (argv, names, out, label)."""
    tally, failures = {"accepted": 0, "rejected": 0}, []
    for i in range(CASES[kind]):
        rng = random.Random(f"{kind}-{i}")
        argv, names, out, label = make_case(i, rng)
        try:
            outcome = call_cli(argv)
        except Exception as exc:  # a traceback: the bug this test is here to find
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        check(outcome, names, out, tally, label, failures)
    assert not failures, "\n".join(failures)
    assert tally["rejected"] >= CASES[kind] // 3  # the mutations do bite
    return tally


def test_mutated_scenarios(arena):
    bases = [yaml.safe_load((arena / n).read_text()) for n in ("base.yaml", "base_trace.yaml")]

    def case(i, rng):
        data = rng.choice(bases)
        if rng.random() < 0.6:
            for _ in range(rng.choice((1, 1, 2, 3))):
                data, how = mutate_data(data, rng)
            text = dump_yaml(data)
        else:
            text, how = mutate_text(dump_yaml(data), rng)
        path = arena / f"case_{i}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        out = arena / f"out_scenario_{i}"
        names = (path.name, "trace.csv", "passwd", "manifest.json")
        return ["run", str(path), "--out", str(out)], names, out, f"scenario {i} ({how})"
    run_cases("scenario", case)


def test_mutated_traces(arena):
    base = (arena / "trace.csv").read_text()
    cells = ("nan", "inf", "-inf", "-1", "1e309", "", "a", "0x10", "1,2", "1e-7", "-0",
             "1_0", " 2 ", "0.5e", "\x00")

    def case(i, rng):
        if rng.random() < 0.5:
            rows = [r.split(",") for r in base.strip().split("\n")]
            r = rng.randrange(len(rows))
            rows[r][rng.randrange(2)] = rng.choice(cells)
            text, how = "\n".join(",".join(c) for c in rows) + "\n", f"cell in row {r}"
        else:
            text, how = mutate_text(base, rng)
        path = arena / f"case_{i}.csv"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        out = arena / f"out_trace_{i}"
        argv = ["run", str(arena / "base_trace.yaml"), "--trace", str(path), "--out", str(out)]
        return argv, (path.name,), out, f"trace {i} ({how}: {text[:80]!r})"
    run_cases("trace", case)


@pytest.mark.parametrize("dotted", list(EXTREMES))
def test_extreme_values_end_cleanly(arena, dotted, tmp_path):
    raw = base_scenario()
    *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node = raw
    for p in parents:
        node = node[p]
    node[last] = EXTREMES[dotted]
    path = arena / f"extreme_{dotted}.yaml"
    path.write_text(dump_yaml(raw))
    tally, failures = {"accepted": 0, "rejected": 0}, []
    out = tmp_path / "out"
    check(call_cli(["run", str(path), "--out", str(out)]), (path.name,), out, tally, dotted,
          failures)
    assert not failures, failures


def bundle_case(arena: Path, i: int, name: str) -> tuple[Path, Path]:
    """A copy of the toy steppingnet bundle and a scenario using it."""
    bundle = arena / f"{name}_{i}"
    shutil.copytree(arena / "models" / "step", bundle)
    raw = base_scenario()
    raw["systems"] = [{"name": "step", "model": bundle.name,
                       "policy": {"name": "deadline_aware"}}]
    scenario = arena / f"{name}_{i}.yaml"
    scenario.write_text(dump_yaml(raw))
    return bundle, scenario


def test_mutated_manifests(arena):
    def case(i, rng):
        bundle, scenario = bundle_case(arena, i, "mbundle")
        manifest = bundle / "manifest.json"
        data = json.loads(manifest.read_text())
        if rng.random() < 0.6:
            for _ in range(rng.choice((1, 1, 2))):
                data, how = mutate_data(data, rng)
            text = json.dumps(data)
        else:
            text, how = mutate_text(json.dumps(data, indent=1), rng)
        manifest.write_text(text, encoding="utf-8", errors="surrogateescape")
        out = arena / f"out_manifest_{i}"
        return (["run", str(scenario), "--out", str(out)], ("manifest.json", "eval.npz", f"mbundle_{i}"), out,
                f"manifest {i} ({how})")
    run_cases("manifest", case)


@pytest.mark.parametrize("name", ESCAPES)
def test_manifest_file_names_cannot_escape_the_bundle(arena, name, tmp_path):
    """A stage file name that is not a plain name in the bundle folder is refused, even
    when the file it points to exists — by ``run`` and by ``inspect``."""
    (arena / "outside.onnx").write_bytes(b"outside")
    Path("/tmp/outside.onnx").write_bytes(b"outside")
    bundle, scenario = bundle_case(arena, ESCAPES.index(name), "ebundle")
    (bundle / "sub").mkdir()
    shutil.copy(bundle / "stage_1.onnx", bundle / "sub" / "stage_1.onnx")
    data = json.loads((bundle / "manifest.json").read_text())
    data["stages"][0]["file"] = name
    (bundle / "manifest.json").write_text(json.dumps(data))
    out = tmp_path / "out"
    for argv in (["run", str(scenario), "--out", str(out)], ["inspect", str(bundle)]):
        outcome = call_cli(argv)
        assert problem(outcome, ("manifest.json",)) is None, outcome
        assert "stages[0].file" in outcome.err and not out.exists()


def corrupt_stage(bundle: Path, rng: random.Random, fix_checksum: bool) -> str:
    from testbed.bundle import sha256_file
    k = rng.randint(1, 4)
    stage = bundle / f"stage_{k}.onnx"
    data, how = mutate_bytes(stage.read_bytes(), rng)
    stage.write_bytes(data)
    if fix_checksum:  # the manifest agrees: the graph itself must be checked
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["stages"][k - 1]["sha256"] = sha256_file(stage)
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    return f"stage_{k}.onnx {how}{' (checksum fixed)' if fix_checksum else ''}"


def test_corrupted_onnx_stages(real_bundle, tmp_path):
    def case(i, rng):
        bundle = tmp_path / f"onnx_{i}"
        shutil.copytree(real_bundle, bundle)
        how = corrupt_stage(bundle, rng, fix_checksum=rng.random() < 0.7)
        if i % 5 == 4:  # profile writes profile.json into the bundle: only on success
            argv = ["profile", str(bundle), "--warmup", "0", "--repeats", "1"]
            out = bundle / "profile.json"
        else:
            argv, out = ["inspect", str(bundle)], tmp_path / "never"
        names = (".onnx", bundle.name)
        return argv, names, out, f"onnx {i} {argv[0]} ({how})"
    tally = {"accepted": 0, "rejected": 0}
    failures = []
    for i in range(CASES["onnx"]):
        argv, names, out, label = case(i, random.Random(f"onnx-{i}"))
        try:
            outcome = call_cli(argv, limit_s=60)
        except Exception as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        if outcome.code == 0:
            tally["accepted"] += 1
            continue
        tally["rejected"] += 1
        why = problem(outcome, names) or (f"{out} written" if out.exists() else None)
        if why:
            failures.append(f"{label}: {why}")
    assert not failures, "\n".join(failures)
    assert tally["rejected"] >= CASES["onnx"] // 2


SUBPROCESS_CASES = {
    "yaml garbage": ("run", "case.yaml", "workload: [\n  {name: x,,\n"),
    "negative budget": ("run-trace", "case.csv", "time_s,budget\n0,1\n0.1,-0.5\n"),
    "decreasing time": ("run-trace", "case.csv", "time_s,budget\n0,1\n0.2,0.5\n0.1,1\n"),
    "binary trace": ("run-trace", "case.csv", "\x00\x01\x02garbage"),
}


@pytest.mark.parametrize("what", list(SUBPROCESS_CASES))
def test_the_real_program_exits_2_with_one_line(arena, tmp_path, what):
    kind, name, text = SUBPROCESS_CASES[what]
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "out"
    if kind == "run":
        argv = ["run", str(path), "--out", str(out)]
    else:
        argv = ["run", str(arena / "base_trace.yaml"), "--trace", str(path), "--out", str(out)]
    proc = subprocess.run([sys.executable, "-m", "testbed", *argv], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and name in proc.stderr
    assert not out.exists()
