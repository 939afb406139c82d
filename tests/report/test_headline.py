"""scripts/headline.py: README's scenario tables are what the committed reports hold."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "headline.py"


def load_headline():
    spec = importlib.util.spec_from_file_location("headline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_cells_mark_intervals_that_contain_zero():
    h = load_headline()
    entry = {"paired": {"accuracy_at_deadline": {"mean": -0.012, "ci95": [-0.021, -0.002]}}}
    assert h.paired(entry, "accuracy_at_deadline") == "−1.2 [−2.1, −0.2]"
    entry["paired"]["accuracy_at_deadline"] = {"mean": -0.01, "ci95": [-0.025, 0.005]}
    assert h.paired(entry, "accuracy_at_deadline") == "≈ (−1.0 [−2.5, +0.5])"
    assert h.paired(None, "accuracy_at_deadline") == "n/a"
    entry = {"paired": {"energy_j": {"mean": 1.41, "ci95": [1.27, 1.55]}}}
    assert h.paired(entry, "energy_j") == "+1.41 [+1.27, +1.55]"


def test_the_deadline_curve_pairs_seed_by_seed(tmp_path):
    h = load_headline()
    metric = lambda seeds: {"metrics": {"accuracy_at_deadline": {"mean": sum(seeds) / 3,
                                                                 "per_seed": seeds},
                                        "hit_rate": {"mean": 1.0}}}
    systems = {"steppingnet": metric([0.5, 0.6, 0.7]), "anywidth": metric([0.49, 0.59, 0.69]),
               "slimmable": metric([0.4, 0.7, 0.5]), "static": metric([0.5, 0.6, 0.7]),
               "static@budget_oracle": metric([0.52, 0.62, 0.72])}
    (tmp_path / "autonomous_brake-deadlines").mkdir()
    (tmp_path / "autonomous_brake-deadlines" / "metrics.json").write_text(
        json.dumps({"deadline_sweep": [{"deadline_ms": 10.0, "systems": systems}]}))
    row = h.deadline_table(tmp_path, "accuracy_at_deadline")[-1]
    # a constant paired difference has a zero-width interval, whatever the seeds' spread
    assert row == ("| 10 ms | 60.0% (100.0%) | −1.0 [−1.0, −1.0] | ≈ (−6.7 [−44.6, +31.3]) "
                   "| ≈ (0.0 [0.0, 0.0]) | +2.0 [+2.0, +2.0] |")


def test_readme_quotes_the_committed_reports():
    """Every row the script prints from the committed reports is in README.md verbatim:
    rerunning a report without updating README (or editing a figure by hand) fails here."""
    h = load_headline()
    readme = (ROOT / "README.md").read_text()
    reports = ROOT / "reports"
    for table in (h.fluid_table, h.task_table, h.deadline_table):
        for row in table(reports, "accuracy_at_deadline")[2:]:
            assert row in readme, f"README.md lacks the row {row!r} (python scripts/headline.py)"
