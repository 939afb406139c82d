"""Export refuses to write a bundle that fails verification, and never leaves a
half-written folder or destroys a good bundle."""

import numpy as np
import pytest

from tests.export.exportfakes import LIMIT, meta_for, nested
from testbed.bundle import load_bundle
from testbed.errors import TestbedError
from testbed.export import writer
from testbed.export.verify import ExportError
from testbed.export.writer import export_model


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def export(out, net=None, **kw):
    return export_model(net or nested("lenet3c1l", seed=5), meta_for("lenet3c1l", "steppingnet"),
                        out, limit=LIMIT, threads=1, **kw)


def test_logit_mismatch_fails_and_keeps_the_good_bundle(tmp_path, monkeypatch):
    out = export(tmp_path / "b")
    before = (out / "manifest.json").read_bytes()
    real = writer.fold_net

    def skewed(net):
        f = real(net)
        f.classifier.bias[:] += 1e-3      # a folding bug: logits off by 1e-3
        return f
    monkeypatch.setattr(writer, "fold_net", skewed)
    with pytest.raises(ExportError, match=r"subnet 1: chained ONNX Runtime logits differ .* \(tolerance 0.0001\)"):
        export(out)
    assert (out / "manifest.json").read_bytes() == before and leftovers(tmp_path) == []
    load_bundle(out, verify=True)


def test_mac_mismatch_fails_and_writes_nothing(tmp_path, monkeypatch):
    net = nested("lenet3c1l", seed=5)
    real = net.stage_macs
    monkeypatch.setattr(net, "stage_macs", lambda dense=False: [m + dense for m in real(dense)])
    with pytest.raises(ExportError, match=r"stage 1: the graph executes .* MACs .* macs_dense is"):
        export(tmp_path / "b", net)
    assert list(tmp_path.iterdir()) == []


def test_failure_after_writing_started_removes_the_temporary_folder(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise TestbedError("disk full")
    monkeypatch.setattr(writer, "write_eval", boom)
    with pytest.raises(TestbedError, match="disk full"):
        export(tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(TestbedError, match="not a model bundle; refusing"):
        export(tmp_path / "b")
    assert (tmp_path / "b" / "notes.txt").read_text() == "mine"


def test_missing_meta_field_is_named(tmp_path):
    meta = meta_for("lenet3c1l", "steppingnet")
    del meta["original_accuracy"]
    with pytest.raises(TestbedError, match="lacks 'original_accuracy'"):
        export_model(nested("lenet3c1l"), meta, tmp_path / "b", limit=LIMIT)


def test_eval_uses_the_limit_and_sample_ids(tmp_path):
    rec = load_bundle(export(tmp_path / "b")).eval
    assert rec.pred.shape == (LIMIT, 4) and np.array_equal(rec.sample_ids, np.arange(LIMIT))
