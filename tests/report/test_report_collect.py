import subprocess
import sys

import numpy as np
import pytest

from tests.report.reportfakes import events, hand_records
from testbed.report.collect import RunCollector, budget_steps
from testbed.report.writers import JobsCsvWriter


def test_budget_steps_tiles_a_repeating_trace():
    t, v = budget_steps(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 9.0]), 4.5,
                        repeat=True)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert v.tolist() == [1.0, 0.5, 1.0, 0.5, 1.0]    # the last row only marks the cycle


def test_budget_steps_holds_and_scales():
    t, v = budget_steps(np.array([0.0, 1.0, 5.0]), np.array([2.0, 1.0, 0.5]), 2.0, scale=0.5)
    assert t.tolist() == [0.0, 1.0] and v.tolist() == [1.0, 0.5]


def test_collector_keeps_little_and_streams_jobs(tmp_path):
    with JobsCsvWriter(tmp_path / "jobs.csv") as jobs:
        c = RunCollector(["a", "b"], idle_w=1.0, duration_s=0.1, jobs=jobs)
        c.add(1, hand_records("a", 1), events("a", 1), result="first")
        c.add(2, hand_records("a", 2), events("a", 2), result="second")
    assert jobs.rows == 8 and c.first == "first" and c.window == (0.0, 0.1)
    assert all(e.seed == 1 and e.start_s <= 0.1 for e in c.events)  # first seed, in window
    assert c.latencies_s["a"] == pytest.approx([0.020, 0.015] * 2) and c.latencies_s["b"] == []
    summaries = c.summaries()
    assert summaries["a"].metrics["hit_rate"].values == (0.5, 0.5)
    assert summaries["b"].metrics["jobs"].values == (0, 0)
    assert summaries["b"].metrics["energy_idle_j"].values == (0.1, 0.1)


def test_report_package_imports_neither_torch_nor_onnxruntime():
    code = ("import sys, testbed.report.writers, testbed.report.collect, testbed.commands.run;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnxruntime')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
