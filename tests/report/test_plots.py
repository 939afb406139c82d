"""Figures read at a glance (testbed.report.plots, rendered with Agg): a title on every
figure, every system in its style, legends without repeats in scenario order, no error bar
from one seed, curves that coincide still told apart, twelve systems legible in the bar
chart, and a timeline over the whole run."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import Rectangle
from matplotlib.colors import to_rgba

from tests.report.reportfakes import events, manifest
from testbed.commands.compare_training import Run, figure as training_figure
from testbed.report import plots, style
from testbed.report.metrics import Interval, SystemSummary

REAL = ["steppingnet", "anywidth", "slimmable", "static"]
TWELVE = REAL + [f"{s}@{b}" for b in ("budget_oracle", "oracle") for s in REAL]


def iv(mean: float, seeds: int) -> Interval:
    ci = None if seeds < 2 else (mean - 0.05, mean + 0.05)
    return Interval(mean, ci, seeds, (mean,) * seeds)


def summaries(names, seeds: int = 2) -> dict[str, SystemSummary]:
    return {n: SystemSummary(n, tuple(range(seeds)),
                             {"hit_rate": iv(0.9 - 0.01 * i, seeds),
                              "accuracy_at_deadline": iv(0.6 + 0.01 * i, seeds)}, {})
            for i, n in enumerate(names)}


def curve(names, seeds: int = 2):
    return [(d, summaries(names, seeds)) for d in (10.0, 20.0, 30.0)]


def latencies(names):
    return {n: list(np.linspace(0.001, 0.03, 50) + 0.0001 * i) for i, n in enumerate(names)}


def legend_labels(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def plain(label: str) -> str:
    return label.split(" (identical to")[0]


def errorbars(fig) -> list:
    return [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]


def timeline(**kw):
    times, budget = np.array([0.0, 1.0, 6.0]), np.array([1.0, 0.3, 0.8])
    return plots.timeline(times, budget, events("a") + events("b"), ["a", "b"], (0.0, 0.5), **kw)


def training_run(method: str) -> Run:
    return Run(f"{method}.json", method, f"lenet5-cifar10-{method}", "lenet5", "cifar10", 0.7, 10,
               (20.0, 80.0), (0.5, 0.6))


FIGURES = {
    "rates": lambda: plots.rates(summaries(TWELVE)),
    "timeline": timeline,
    "profiles": lambda: plots.profiles({"a": manifest("a"), "b": manifest("b", "slimmable")}),
    "latency": lambda: plots.latency_cdf(latencies(TWELVE), (30.0,)),
    "deadlines": lambda: plots.deadline_curve(curve(TWELVE)),
    "training": lambda: training_figure("lenet5", "cifar10", [training_run("static")]),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_has_a_title(name):
    fig = FIGURES[name]()
    titles = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    assert any(t.strip() for t in titles), name
    fig.canvas.draw()       # renders with Agg, no pyplot


@pytest.mark.parametrize("name", ["latency", "deadlines"])
def test_legends_have_no_repeats_and_follow_the_scenario_order(name):
    shuffled = TWELVE[4:6] + TWELVE[:2] + TWELVE[6:] + TWELVE[2:4]    # bounds mixed in
    fig = (plots.latency_cdf(latencies(shuffled)) if name == "latency"
           else plots.deadline_curve(curve(shuffled)))
    labels = legend_labels(fig)
    assert len(labels) == len(set(labels))
    assert [plain(label) for label in labels] == style.order(shuffled)
    assert style.order(shuffled)[:4] == ["steppingnet", "anywidth", "slimmable", "static"]


def test_profiles_legend_has_no_repeated_method_and_leaves_out_identical_bounds():
    manifests = {"steppingnet": manifest("s"), "mine": manifest("m", "slimmable"),
                 "steppingnet@oracle": manifest("s")}
    fig = plots.profiles(manifests)
    assert legend_labels(fig) == ["steppingnet", "mine (slimmable)"]
    assert "bounds" in fig.legends[0].get_title().get_text()


@pytest.mark.parametrize("seeds,bars", [(1, 0), (2, 12)])
def test_error_bars_only_from_several_seeds(seeds, bars):
    fig = plots.rates(summaries(TWELVE, seeds))
    assert [len([c for c in ax.containers if isinstance(c, ErrorbarContainer)])
            for ax in fig.axes] == [bars, bars]


@pytest.mark.parametrize("seeds,bands", [(1, 0), (3, 12)])
def test_deadline_bands_only_from_several_seeds(seeds, bands):
    fig = plots.deadline_curve(curve(TWELVE, seeds))
    for ax in fig.axes:
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == bands


def test_rates_keep_twelve_systems_legible():
    shuffled = TWELVE[::-1]
    fig = plots.rates(summaries(shuffled))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == style.order(shuffled)
    assert fig.get_figheight() > plots.rates(summaries(REAL)).get_figheight()
    looks = style.styles(TWELVE)
    assert len(ax.patches) == len(TWELVE)
    for name, bar in zip(style.order(shuffled), ax.patches):
        assert to_rgba(bar.get_facecolor())[:3] == to_rgba(looks[name].color)[:3]
        assert bool(bar.get_hatch()) == style.is_bound(name)
    assert {t.get_text() for t in fig.legends[0].get_texts()} == \
        {"bound: budget_oracle", "bound: oracle"}


def test_identical_curves_stay_visible():
    data = latencies(REAL)
    data["steppingnet@budget_oracle"] = list(data["steppingnet"])
    fig = plots.latency_cdf(data)
    lines = {plain(l.get_label()): l for l in fig.axes[0].lines
             if not l.get_label().startswith("_")}
    assert "steppingnet@budget_oracle (identical to steppingnet)" in legend_labels(fig)
    base, bound = lines["steppingnet"], lines["steppingnet@budget_oracle"]
    assert base.get_color() == bound.get_color()
    assert base.get_linestyle() != bound.get_linestyle()
    assert bound.get_markerfacecolor() == "none" and bound.get_markersize() > base.get_markersize()
    assert base.get_markevery() != bound.get_markevery()      # markers at other points


def test_timeline_shows_the_whole_run_and_zooms_into_the_window():
    fig = timeline(run_s=10.0)
    whole, zoom, *stages = fig.axes
    assert whole.get_xlim() == (0.0, 10.0)
    assert whole.lines[0].get_xdata()[-1] == 10.0               # the last step holds to the end
    spans = [(p.get_x(), p.get_width()) for p in whole.patches if isinstance(p, Rectangle)]
    assert spans == [(0.0, 0.5)], "the zoomed window is marked on the whole-run panel"
    assert zoom.get_xlim() == (0.0, 0.5) and all(ax.get_xlim() == (0.0, 0.5) for ax in stages)
    assert len(stages) == 2
    assert tuple(stages[0].collections[0].get_color()[0][:3]) == \
        to_rgba(style.style("a").color)[:3]


def test_timeline_without_run_length_ends_at_the_last_step():
    assert timeline().axes[0].get_xlim() == (0.0, 6.0)


def test_training_figure_uses_the_report_colours():
    fig = training_figure("lenet5", "cifar10", [training_run(m) for m in REAL])
    lines = {l.get_label(): l for l in fig.axes[0].lines}
    for method in REAL:
        assert lines[method].get_color() == style.style(method).color
        assert lines[method].get_marker() == style.style(method).marker
