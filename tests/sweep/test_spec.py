"""SWEEP.yaml -> grid points: fixed order, stable keys, and clear errors for bad files."""

import pytest
import yaml

from testbed.errors import ConfigError
from testbed.sweep.spec import load_sweep


def test_every_combination_is_a_point_in_a_fixed_order(sweep_file):
    spec = load_sweep(sweep_file)
    assert spec.name == "toy-sweep" and spec.base == (sweep_file.parent / "base.yaml").resolve()
    assert [p.params for p in spec.points()] == [
        {"workload.0.deadline_ms": 10, "seed": 1}, {"workload.0.deadline_ms": 10, "seed": 2},
        {"workload.0.deadline_ms": 30, "seed": 1}, {"workload.0.deadline_ms": 30, "seed": 2}]
    assert [p.index for p in spec.points()] == [0, 1, 2, 3]
    keys = [p.key for p in spec.points()]
    assert len(set(keys)) == 4 and keys == [p.key for p in load_sweep(sweep_file).points()]


@pytest.mark.parametrize("change, field", [
    ({"extra": 1}, "extra"),
    ({"base": "missing.yaml"}, "base"),
    ({"base": None}, "base"),
    ({"grid": {}}, "grid"),
    ({"grid": {"seed": 3}}, "grid.seed"),
    ({"grid": {"seed": []}}, "grid.seed"),
    ({"duration_s": -1}, "duration_s"),
    ({"name": "a/b"}, "name"),
])
def test_bad_sweep_files_name_the_field(sweep_file, write_sweep, change, field):
    raw = {**yaml.safe_load(sweep_file.read_text()), **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    path = write_sweep(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=rf"other.yaml: {field.replace('.', '[.]')}: expected"):
        load_sweep(path)


def test_a_missing_or_broken_file_is_a_config_error(write_sweep, tmp_path):
    with pytest.raises(ConfigError, match="an existing sweep YAML file"):
        load_sweep(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="valid YAML"):
        load_sweep(write_sweep("grid: [unclosed"))
