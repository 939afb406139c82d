"""Round trip for every method and architecture: export a randomised model, then check
the bundle against PyTorch (logits per subnet, MACs) and against a fresh ONNX run."""

import numpy as np
import onnx
import pytest

from testbed.bundle import load_bundle
from testbed.data.datasets import synthetic_split
from testbed.export.evaluate import evaluate_chain, normalized
from testbed.export.onnx_macs import count_macs
from testbed.export.runtime import chain_from_files

from tests.export.exportfakes import ARCHS, LIMIT, METHODS, reference_logits, reference_macs
from tests.records import CONF_ABS

CASES = [(a, m) for a in ARCHS for m in METHODS]


def sample_images():
    split = synthetic_split("test")
    return split.images.numpy()[:LIMIT], split.labels.numpy()[:LIMIT]


@pytest.mark.parametrize("arch,method", CASES)
def test_chained_onnx_equals_pytorch_per_subnet(exported, arch, method):
    model, path = exported(arch, method)
    bundle = load_bundle(path, verify=True)
    chain = chain_from_files([bundle.stage_path(k) for k in range(1, bundle.manifest.num_stages + 1)], 1)
    images, _ = sample_images()
    x = normalized(images[:16], [0.5] * 3, [0.25] * 3)
    for got, want in zip(chain.run(x), reference_logits(model, x), strict=True):
        assert np.max(np.abs(got - want)) <= 1e-4


@pytest.mark.parametrize("arch,method", CASES)
def test_stage_macs_sum_to_subnet_macs(exported, arch, method):
    model, path = exported(arch, method)
    man = load_bundle(path).manifest
    subnet, incremental = reference_macs(model)
    assert man.incremental == incremental
    assert [man.cost_to_reach(k) for k in range(1, man.num_stages + 1)] == subnet
    for k, st in enumerate(man.stages, start=1):
        assert count_macs(onnx.load(str(path / st.file))) == st.macs_dense
        assert st.macs <= st.macs_dense


@pytest.mark.parametrize("arch,method", CASES)
def test_eval_record_equals_fresh_onnx_run(exported, arch, method):
    _, path = exported(arch, method)
    bundle = load_bundle(path)
    chain = chain_from_files([bundle.stage_path(k) for k in range(1, bundle.manifest.num_stages + 1)], 1)
    images, labels = sample_images()
    fresh = evaluate_chain(chain, images, labels, [0.5] * 3, [0.25] * 3, batch_size=7)
    rec = bundle.eval
    assert rec.split == "test" and np.array_equal(rec.sample_ids, np.arange(LIMIT))
    assert np.array_equal(rec.labels, labels) and np.array_equal(rec.pred, fresh.pred)
    # other batch sizes may take other ONNX Runtime kernels: confidences agree to rounding
    np.testing.assert_allclose(rec.conf, fresh.conf, rtol=0, atol=CONF_ABS)
    assert [s.accuracy for s in bundle.manifest.stages] == pytest.approx(list(rec.accuracy()), abs=1e-12)


@pytest.mark.parametrize("arch,method", CASES)
def test_graphs_are_valid_opset17_with_dynamic_batch(exported, arch, method):
    _, path = exported(arch, method)
    man = load_bundle(path).manifest
    for k, st in enumerate(man.stages, start=1):
        model = onnx.load(str(path / st.file))
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version >= 17
        for vi in list(model.graph.input) + list(model.graph.output):
            assert vi.type.tensor_type.shape.dim[0].dim_param == "N"
        props = {p.key: p.value for p in model.metadata_props}
        assert props["testbed.stage"] == str(k) and props["testbed.num_stages"] == str(man.num_stages)
        assert props["testbed.macs"] == str(st.macs) and props["testbed.method"] == method


def test_manifest_copies_checkpoint_meta(exported):
    _, path = exported("lenet3c1l", "steppingnet")
    raw = load_bundle(path).manifest.raw
    assert raw["name"] == path.name and raw["architecture"] == "lenet3c1l"
    assert raw["training"] == {"recipe": "test", "seed": 0, "epochs": 0}
    assert raw["classes"][0] == "class0" and raw["input"]["shape"] == [3, 32, 32]
    assert raw["export"]["parity_max_abs_diff"] <= 1e-4
