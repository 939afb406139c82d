"""scripts/profile_ops.py: per-operator times of a shipped stage graph, slowest first."""

from pathlib import Path

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def load():
    return load_script("profile_ops")


def test_profiles_every_convolution_of_a_stage_slowest_first():
    rows = load().profile(str(ROOT / "models/lenet3c1l-cifar10-steppingnet/stage_2.onnx"),
                          runs=5, top=50)
    assert [us for _, _, us in rows] == sorted((us for _, _, us in rows), reverse=True)
    assert sum(op == "Conv" or op == "FusedConv" for _, op, _ in rows) == 3   # conv1..conv3
    assert all(us >= 0 for _, _, us in rows)


def test_a_missing_graph_is_one_clear_error(capsys, tmp_path):
    assert load().main([str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nope.onnx" in err and err.count("\n") == 1
