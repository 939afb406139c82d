"""scripts/conv_blocks.py: one Conv timed for every output channel count it lists."""

import json

import pytest

from tests.scripts import load_script


def test_times_every_input_and_output_channel_count(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    module = load_script("conv_blocks")
    monkeypatch.setattr(module, "OUTPUTS", (1, 9))
    monkeypatch.setattr(module, "INPUTS", (3,))
    out = tmp_path / "c.json"
    assert module.main(["--out", str(out), "--rounds", "1", "--runs", "3"]) == 0
    doc = json.loads(out.read_text())
    assert doc == json.loads(capsys.readouterr().out)
    assert [(r["c_in"], r["c_out"]) for r in doc["rows"]] == [(3, 1), (3, 9)]
    assert all(r["us"] > 0 for r in doc["rows"]) and "vector" in doc["host"]
