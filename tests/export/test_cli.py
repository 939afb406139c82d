"""The export, inspect and profile commands end to end through the CLI, on a checkpoint
file; a corrupted or mismatched bundle is one clear line and exit status 2."""

import json
import shutil

import numpy as np
import pytest

from tests.export.exportfakes import meta_for, nested
from testbed.bundle import load_bundle
from testbed.checkpoint import save_checkpoint
from testbed.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    save_checkpoint(root / "net.pt", nested("lenet3c1l", seed=7), meta_for("lenet3c1l", "steppingnet"))
    assert main(["export", str(root / "net.pt"), "--out", str(root / "models" / "toy"),
                 "--limit", "40", "--threads", "1"]) == 0
    return root / "models" / "toy"


@pytest.fixture
def copy(bundle, tmp_path):
    shutil.copytree(bundle, tmp_path / "toy")
    return tmp_path / "toy"


def test_inspect_prints_the_manifest_table(bundle, capsys):
    assert main(["inspect", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "steppingnet" in out and "stage_4.onnx" in out and "bundle OK" in out


def test_tampered_stage_fails_inspect_by_checksum(copy, capsys):
    data = bytearray((copy / "stage_2.onnx").read_bytes())
    data[-5] ^= 0xFF
    (copy / "stage_2.onnx").write_bytes(bytes(data))
    assert main(["inspect", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "stage_2.onnx: sha256 mismatch" in err and len(err.splitlines()) == 1


def test_mismatched_accuracy_fails_inspect(copy, capsys):
    man = json.loads((copy / "manifest.json").read_text())
    man["stages"][0]["accuracy"] = 0.999
    (copy / "manifest.json").write_text(json.dumps(man))
    assert main(["inspect", str(copy)]) == 2
    assert "stages[0].accuracy is 0.9990 but eval.npz gives" in capsys.readouterr().err


def test_swapped_stage_files_fail_inspect(copy, capsys):
    man = json.loads((copy / "manifest.json").read_text())
    s = man["stages"]
    s[1]["file"], s[2]["file"] = s[2]["file"], s[1]["file"]
    s[1]["sha256"], s[2]["sha256"] = s[2]["sha256"], s[1]["sha256"]
    (copy / "manifest.json").write_text(json.dumps(man))
    assert main(["inspect", str(copy)]) == 2
    assert "stage file and manifest do not match" in capsys.readouterr().err


def test_missing_bundle_and_checkpoint_are_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope")]) == 2
    assert main(["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "bundle folder not found" in err[0] and "checkpoint not found" in err[1]
    assert not (tmp_path / "b").exists()


def test_profile_writes_profile_json(copy, capsys):
    assert main(["profile", str(copy), "--threads", "1", "--warmup", "1", "--repeats", "3"]) == 0
    prof = json.loads((copy / "profile.json").read_text())
    assert prof["threads"] == 1 and prof["batch"] == 1 and prof["onnxruntime"]
    assert [s["index"] for s in prof["stages"]] == [1, 2, 3, 4]
    assert all(s["median_ms"] > 0 and s["p95_ms"] >= s["median_ms"] for s in prof["stages"])
    man = load_bundle(copy).manifest
    for row in prof["reach"]:
        assert row["ratio"] > 0 and row["chained_macs_dense"] == man.cost_to_reach(row["subnet"], "macs_dense")
        assert row["monolithic_macs_dense"] >= row["chained_macs_dense"]
    assert "ratio" in capsys.readouterr().out
    load_bundle(copy, verify=True)          # profile.json does not disturb the bundle


def test_eval_record_from_checkpoint_export(bundle):
    rec = load_bundle(bundle).eval
    assert rec.pred.shape == (40, 4) and np.all((rec.conf > 0) & (rec.conf <= 1))
