"""The sweep report reads like a run report (testbed.sweep.report, on hand-made rows):
percentages in the table, systems in scenario order with bounds last, each system in its
style, curves joined in x order against the deadline and points not joined against the
measured mean budget, no interval from one row, a title on every figure."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

from testbed.report import style
from testbed.sweep import report

SCENARIO = ["stepping", "slim", "stepping@oracle", "slim@oracle"]
BUDGET = {1: 0.7, 2: 0.5, 3: 0.6}          # mean budget per seed: not in grid order


def rows(seeds=(1, 2, 3), deadlines=(30.0, 10.0, 20.0)) -> list[dict]:
    """Rows as the runner sorts them: by point, then system name (alphabetical)."""
    out, point = [], 0
    for deadline in deadlines:
        for seed in seeds:
            for i, system in enumerate(sorted(SCENARIO)):
                out.append({"point": point, "point_key": f"k{point}", "system": system,
                            "seed": seed, "deadline_ms": deadline, "mean_budget": BUDGET[seed],
                            "hit_rate": 0.5 + deadline / 100 + seed / 100,
                            "accuracy_at_deadline": 0.4 + i / 20 + seed / 100})
            point += 1
    return out


def labels(fig) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


def drawn(fig) -> dict:
    return {l.get_label(): l for l in fig.axes[0].lines if not l.get_label().startswith("_")}


def test_systems_follow_the_scenario_with_bounds_last():
    assert report.system_order(rows(), SCENARIO) == SCENARIO
    assert report.system_order(rows()) == ["slim", "stepping", "slim@oracle", "stepping@oracle"]
    assert report.system_order(rows(), ["other", "slim"])[:2] == ["slim", "stepping"]


def test_against_the_deadline_lines_are_joined_in_x_order_in_each_systems_style():
    fig = report.figure(rows(), "deadline_ms", "deadline (ms)", SCENARIO, "t")
    assert [l.split(" (identical")[0] for l in labels(fig)] == SCENARIO
    looks = style.styles(SCENARIO)
    for name, line in drawn(fig).items():
        xs = list(line.get_xdata())
        assert xs == sorted(xs) == [10.0, 20.0, 30.0]
        assert line.get_linestyle() == looks[name].linestyle
        assert line.get_color() == looks[name].color
    assert len({looks[n].color for n in ("stepping", "slim")}) == 2


def test_against_the_mean_budget_points_are_not_joined():
    fig = report.figure(rows(), "mean_budget", "budget", SCENARIO, "t", join=False,
                        x_scale=100.0)
    for line in drawn(fig).values():
        assert line.get_linestyle() == "None"
        xs = list(line.get_xdata())
        assert xs == sorted(xs) == [50.0, 60.0, 70.0]


@pytest.mark.parametrize("x,seeds,deadlines,intervals", [
    ("deadline_ms", (1,), (10.0, 20.0), 0), ("deadline_ms", (1, 2), (10.0, 20.0), 4),
    ("mean_budget", (1, 2), (10.0,), 0), ("mean_budget", (1, 2), (10.0, 20.0), 4)])
def test_an_interval_needs_several_rows(x, seeds, deadlines, intervals):
    fig = report.figure(rows(seeds, deadlines), x, x, SCENARIO, "t", join=x == "deadline_ms")
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bands) + len(bars) == intervals


def test_report_tables_are_in_percent_and_figures_have_titles(tmp_path):
    spec = SimpleNamespace(name="toy", base=Path(tmp_path / "gone.yaml"), grid={"seed": [1]},
                           points=lambda: [0, 1, 2])
    report.write_report(tmp_path, spec, rows(), [], "testbed sweep toy.yaml")
    md = (tmp_path / "report.md").read_text()
    table = [l for l in md.splitlines() if l.startswith("| s")][1:]
    assert table[0].startswith("| slim | 10 | 6")
    assert all("%" in l.split("|")[3] and "%" in l.split("|")[4] for l in table)
    assert "0.6" not in table[0].split("|")[3]
    assert "in % of jobs" in md
    fig = report.figure(rows(), "deadline_ms", "deadline (ms)", SCENARIO, "Sweep toy")
    assert fig.get_suptitle() == "Sweep toy"
    assert fig.axes[0].get_ylabel() == "% of jobs"
    assert {"vs_deadline.png", "vs_budget.png"} <= {p.name for p in tmp_path.iterdir()}
