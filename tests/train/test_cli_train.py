"""`testbed train` on the command line: bad input is one line and exit status 2; a run
folder refuses a different recipe; a finished run is not retrained."""

from testbed.cli import main

from tests.train.conftest import SMOKE


def test_bad_recipe_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("iterations: 6", "iterations: six"))
    assert main(["train", str(bad), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "steppingnet.iterations" in err and "an integer" in err and err.count("\n") == 1


def test_finished_run_is_returned_and_other_recipe_refused(smoke_reference, tmp_path, capsys):
    _, tmp, _ = smoke_reference
    out = str(tmp / "run")
    assert main(["train", str(SMOKE), "--out", out, "--no-progress"]) == 0
    assert "subnet 4" in capsys.readouterr().out
    other = tmp_path / "other.yaml"
    other.write_text(SMOKE.read_text().replace("seed: 0", "seed: 1"))
    assert main(["train", str(other), "--out", out, "--no-progress"]) == 2
    assert "use another --out" in capsys.readouterr().err


def test_train_warns_about_steps_that_change_no_prediction(tmp_path, capsys, monkeypatch):
    import testbed.train.runner as runner
    summary = {"original_macs": 1000, "original_accuracy": 0.5,
               "subnets": [{"index": k, "macs_pct": 10.0 * k, "macs_dense_pct": 10.0 * k,
                            "accuracy": 0.4} for k in (1, 2, 3)],
               "stage_health": {"silent_stages": [3], "images": 128}}
    monkeypatch.setattr(runner, "run_training", lambda *a, **k: summary)
    out = str(tmp_path / "run")
    assert main(["train", str(SMOKE), "--out", out, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: step(s) 3 change no prediction" in err and "stage_health.py" in err
    summary["stage_health"] = {"silent_stages": []}
    assert main(["train", str(SMOKE), "--out", out, "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_train_warns_when_the_subnets_miss_their_mac_targets(tmp_path, capsys, monkeypatch):
    import testbed.train.runner as runner
    summary = {"original_macs": 1000, "original_accuracy": 0.5, "targets_reached": False,
               "subnets": [{"index": k, "macs_pct": 10.0 * k + (7.06 if k == 2 else 0.0),
                            "target_pct": 10.0 * k, "macs_dense_pct": 10.0 * k,
                            "accuracy": 0.4} for k in (1, 2, 3)]}
    monkeypatch.setattr(runner, "run_training", lambda *a, **k: summary)
    out = str(tmp_path / "run")
    assert main(["train", str(SMOKE), "--out", out, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "miss their MAC targets" in err and "27.06% for 20.00%" in err
    summary["targets_reached"] = True
    assert main(["train", str(SMOKE), "--out", out, "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_run_started_before_a_switch_existed_still_resumes():
    import json

    from testbed.train.recipe import (ADDED_LATER, load_recipe, recipe_fingerprint,
                                      same_recipe)
    smokes = {SMOKE.with_name(f"smoke-{section}.yaml") for section, _ in ADDED_LATER}
    for smoke in sorted(smokes):
        now = recipe_fingerprint(load_recipe(smoke))
        old = json.loads(now)
        for (section, key), value in ADDED_LATER.items():
            if section in old:
                assert old[section][key] == value      # the smoke recipe keeps the old value
                del old[section][key]
        assert same_recipe(json.dumps(old), now), smoke
    now = recipe_fingerprint(load_recipe(SMOKE))
    old = json.loads(now)
    old["seed"] = 1
    assert not same_recipe(json.dumps(old), now)   # anything else still has to match
    changed = json.loads(now)
    changed["steppingnet"]["revive_dead"] = True
    stored = json.loads(now)
    del stored["steppingnet"]["revive_dead"]
    assert not same_recipe(json.dumps(stored), json.dumps(changed, sort_keys=True))


def test_progress_lines_log_each_phase_with_counts_instead_of_bars(tmp_path, capsys):
    """--progress-lines: every phase (teacher, construction, retraining) writes a start
    and a done line with its counts on stderr; no tqdm bar characters."""
    import re
    out = str(tmp_path / "run")
    assert main(["train", str(SMOKE), "--out", out, "--progress-lines"]) == 0
    err = capsys.readouterr().err
    for phase in ("teacher", "construction", "retraining"):
        done = [l for l in err.splitlines() if f" {phase} " in l and l.endswith("done")]
        assert len(done) == 1, (phase, err)
        n, total = re.search(r" ([\d,]+)/([\d,]+) ", done[0]).groups()
        assert n == total
    assert "|" not in err and "\r" not in err


def test_line_progress_writes_one_line_per_interval():
    import io
    from testbed.train.common import LineProgress
    now = [0.0]
    buf = io.StringIO()
    bar = LineProgress(100, "static", 10, "sample", interval=60, stream=buf, clock=lambda: now[0])
    for _ in range(9):                          # 9 updates over 3 minutes
        now[0] += 20
        bar.update(10)
    bar.set_postfix_str("model 1 acc 0.500")
    bar.close()
    bar.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 + 3 + 1              # start, one a minute, done
    assert lines[0].endswith("10/100 sample (10.0%) 0/s start")
    assert lines[1].endswith(" 40/100 sample (40.0%) 0.5/s 2m left")  # 30 samples in 60 s
    assert lines[-1].endswith("100/100 sample (100.0%) 0.5/s model 1 acc 0.500 done")


def test_line_progress_time_left_reads_in_minutes_and_hours():
    import io
    from testbed.train.common import LineProgress
    now = [0.0]
    buf = io.StringIO()
    bar = LineProgress(20_000, "retraining", 0, "batch", interval=60, stream=buf,
                       clock=lambda: now[0])
    now[0] = 60
    bar.update(100)                                # 100 batches a minute: 199 minutes left
    assert buf.getvalue().splitlines()[-1].endswith(" 1.7/s 3h19m left")
