"""`testbed compare-training` on hand-made training records: one figure per architecture,
one table of every subnet, a malformed record named in a one-line error (exit 2)."""

import json

import pytest

from testbed.cli import main


def record(method, arch="lenet3c1l", pct=(10.0, 30.0, 50.0, 85.0), acc=(0.5, 0.6, 0.7, 0.8),
           samples=1000):
    return {"method": method, "name": f"{arch}-cifar10-{method}", "arch": arch,
            "dataset": "cifar10", "original_macs": 1000, "original_accuracy": 0.82,
            "samples_seen": samples,
            "subnets": [{"index": k + 1, "macs_pct": p, "accuracy": a}
                        for k, (p, a) in enumerate(zip(pct, acc))]}


def write(folder, name, blob):
    path = folder / name
    path.write_text(blob if isinstance(blob, str) else json.dumps(blob))
    return str(path)


def test_writes_a_figure_per_architecture_and_one_table(tmp_path):
    files = [write(tmp_path, f"{m}.json", record(m)) for m in ("slimmable", "steppingnet", "anywidth")]
    files.append(write(tmp_path, "lenet5.json", record("static", arch="lenet5")))
    out = tmp_path / "out"
    assert main(["compare-training", *files, "--out", str(out)]) == 0
    assert (out / "lenet3c1l-cifar10.png").stat().st_size > 0
    assert (out / "lenet5-cifar10.png").is_file()
    table = (out / "comparison.md").read_text()
    rows = [l for l in table.splitlines() if l.startswith("| ") and l.count("|") == 8
            and l.split("|")[3].strip().isdigit()]
    assert len(rows) == 16
    lenet3c1l = table.split("## lenet5")[0]
    methods = [r.split("|")[1].strip() for r in rows if r in lenet3c1l]
    assert methods == ["steppingnet"] * 4 + ["anywidth"] * 4 + ["slimmable"] * 4
    assert "| slimmable | slimmable | 2 | 30.00 | 60.00 | 82.00 | 1,000 |" in table
    assert "Unequal" not in table


def test_table_i_and_the_rivals_stand_beside_the_runs(tmp_path):
    blobs = {"steppingnet": record("steppingnet", "lenet5", (15, 30, 60, 85), (0.53, 0.6, 0.7, 0.72)),
             "anywidth": record("anywidth", "lenet5", (15, 30, 60, 85), (0.55, 0.59, 0.6, 0.61)),
             "slimmable": record("slimmable", "lenet5", (15, 30, 60, 85), (0.5, 0.61, 0.65, 0.7)),
             "static": record("static", "lenet5", (15, 30, 60, 85), (0.9, 0.9, 0.9, 0.9))}
    blobs["steppingnet"]["wall_time_s"] = 2 * 3600 + 21 * 60
    files = [write(tmp_path, f"{m}.json", b) for m, b in blobs.items()]
    assert main(["compare-training", *files, "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert ("| SteppingNet (paper, Table I) | 74.96 | 51.80 @ 13.64% | 59.56 @ 26.54% | "
            "68.64 @ 55.07% | 72.03 @ 82.74% | — |") in table
    assert ("| steppingnet | 82.00 (+7.04) | 53.00 @ 15.00% (+1.20) | 60.00 @ 30.00% (+0.44) | "
            "70.00 @ 60.00% (+1.36) | 72.00 @ 85.00% (-0.03) | 2 h 21 min |") in table
    # against the better of any-width and slimmable only (static is not the paper's rival)
    assert "per subnet (points): -2.00 / -1.00 / +5.00 / +2.00." in table


def test_unequal_budgets_are_flagged(tmp_path):
    files = [write(tmp_path, "a.json", record("steppingnet")),
             write(tmp_path, "b.json", record("anywidth", samples=10))]
    assert main(["compare-training", *files, "--out", str(tmp_path / "out")]) == 0
    assert "Unequal training budgets" in (tmp_path / "out" / "comparison.md").read_text()


@pytest.mark.parametrize("blob,field", [
    ("{not json", "JSON"),
    ([1, 2], "JSON object"),
    ({k: v for k, v in record("slimmable").items() if k != "arch"}, "arch"),
    ({**record("slimmable"), "subnets": []}, "subnets"),
    ({**record("slimmable"), "subnets": [{"macs_pct": "10", "accuracy": 0.5}]}, "subnets[0].macs_pct"),
])
def test_a_malformed_record_is_named_and_exits_2(tmp_path, capsys, blob, field):
    good = write(tmp_path, "good.json", record("steppingnet"))
    bad = write(tmp_path, "bad.json", blob)
    out = tmp_path / "out"
    assert main(["compare-training", good, bad, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and field in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["compare-training", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_runs_of_one_method_are_told_apart_by_line_style(tmp_path):
    """An ablation figure holds several runs of one method: same colour, other dashes."""
    from testbed.commands.compare_training import figure, read_run
    full = record("steppingnet")
    ablation = dict(record("steppingnet", acc=(0.4, 0.5, 0.6, 0.7)), name="lenet3c1l-cifar10-no-kd")
    runs = [read_run(write(tmp_path, f"{i}.json", r)) for i, r in enumerate((full, ablation))]
    lines = [l for l in figure("lenet3c1l", "cifar10", runs).axes[0].lines
             if l.get_label().startswith("steppingnet")]
    assert len(lines) == 2 and lines[0].get_color() == lines[1].get_color()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()


def test_reference_gives_each_run_against_it_with_the_recipe_keys_it_differs_in(tmp_path, capsys):
    recipe = {"name": "ours", "method": "steppingnet", "seed": 0, "bundle_name": "b",
              "steppingnet": {"mac_schedule": "lines", "floors": True}}
    ours = record("steppingnet", acc=(0.5, 0.6, 0.7, 0.8))
    ours["recipe"] = recipe
    quota = record("steppingnet", pct=(11.0, 30.0, 50.0, 85.0), acc=(0.45, 0.61, 0.7, 0.8))
    quota["recipe"] = {**recipe, "name": "quota",
                       "steppingnet": {"mac_schedule": "quota", "floors": True}}
    old = record("steppingnet")                 # trained before a later key existed
    old["recipe"] = {**recipe, "steppingnet": {"mac_schedule": "lines", "floors": True}}
    static = record("static")
    static["recipe"] = {**recipe, "method": "static", "static": {"units": None}}
    static["recipe"].pop("steppingnet")
    ours["recipe"]["steppingnet"]["revive_dead"] = False      # that key, at its old value
    files = [write(tmp_path, f"{n}.json", b) for n, b in
             (("ours", ours), ("quota", quota), ("old", old), ("static", static))]
    out = tmp_path / "out"
    assert main(["compare-training", *files, "--reference", "ours", "--out", str(out)]) == 0
    table = (out / "comparison.md").read_text().split("### Against ours")[1]
    assert "| quota | steppingnet.mac_schedule: lines → quota | -5.00 (+1.0) | +1.00 (+0.0) " \
           "| +0.00 (+0.0) | +0.00 (+0.0) |" in table
    assert "| old | — | +0.00 (+0.0) |" in table     # name differs, nothing that shapes it
    assert "| static | method: steppingnet → static | " in table     # not the sections' contents
    assert main(["compare-training", *files, "--reference", "theirs", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--reference" in err and "theirs" in err and err.count("\n") == 1
