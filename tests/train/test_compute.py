"""Compute settings (recipe ``compute:``, issue 19): layout and threads change how fast
training runs, not what it learns."""

import dataclasses

import pytest

from testbed.errors import ConfigError
from testbed.train.recipe import load_recipe, parse_recipe
from testbed.train.runner import run_training

from .conftest import SMOKE


def test_the_smoke_run_learns_the_same_in_either_memory_layout(smoke_reference, tmp_path):
    """The reference run uses channels_last (the default); in NCHW the float rounding
    differs. Everything continuous must agree to rounding: the teacher and the first
    construction iteration (before any unit has moved). After that a score within rounding
    of a tie can move another unit, and on some CPUs it does (an AVX-512 host diverged at
    iteration 5), after which the tiny smoke run's final accuracies (128 synthetic test
    images, near chance after its last large move) differ by chance: they are not
    compared. The MAC budget every subnet ends at is the schedule's, whatever moved."""
    summary, _, _ = smoke_reference
    recipe = load_recipe(SMOKE)
    nchw = dataclasses.replace(recipe, compute=dataclasses.replace(recipe.compute,
                                                                   channels_last=False))
    other = run_training(nchw, None, tmp_path / "run", show_progress=False,
                         teacher_cache=tmp_path / "teachers")
    assert other["original_accuracy"] == pytest.approx(summary["original_accuracy"], abs=0.05)
    first, its = summary["history"][0], other["history"][0]
    assert first["phase"] == its["phase"] == "construction" and first["iteration"] == 1
    assert its["loss"] == pytest.approx(first["loss"], rel=1e-3)
    assert [s["macs"] for s in summary["subnets"]] == pytest.approx(
        [s["macs"] for s in other["subnets"]], rel=0.05)


@pytest.mark.parametrize("bad, field", [({"precision": "fp16"}, "compute.precision"),
                                        ({"threads": 0}, "compute.threads"),
                                        ({"fast": True}, "compute.fast")])
def test_bad_compute_settings_name_the_field(bad, field):
    import yaml
    raw = yaml.safe_load(SMOKE.read_text())
    raw["compute"] = bad
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        parse_recipe(raw, str(SMOKE))


def test_the_batch_stream_hands_out_the_layout_asked_for():
    import torch
    from testbed.data import load_split
    from testbed.train.common import BatchStream
    recipe = load_recipe(SMOKE)
    split = load_split(recipe.dataset, None, "train")
    for channels_last in (False, True):
        x, _ = BatchStream(split, 8, (0, "t"), channels_last=channels_last).next()
        assert x.is_contiguous(memory_format=torch.channels_last) == channels_last
        assert x.is_contiguous() != channels_last


def test_bf16_on_a_cpu_without_native_bfloat16_is_warned_about(monkeypatch):
    """PyTorch emulates bfloat16 where the CPU has none (AVX2 hosts): a recipe asking for
    it there runs many times slower than in fp32, which a user should hear before hours."""
    from types import SimpleNamespace

    from testbed.commands.train import emulated_bf16
    recipe = lambda precision: SimpleNamespace(   # noqa: E731
        compute=SimpleNamespace(precision=precision), file="recipes/r.yaml", name="r")
    warning = emulated_bf16(recipe("bf16"), "cpu", native=False)
    assert "recipes/r.yaml" in warning and "compute.precision: fp32" in warning
    assert emulated_bf16(recipe("bf16"), "cpu", native=True) is None
    from testbed import profile
    monkeypatch.setattr(profile, "native_bf16", lambda: False)   # asked of this CPU
    assert emulated_bf16(recipe("bf16"), "cpu") == warning
    monkeypatch.setattr(profile, "native_bf16", lambda: None)    # cannot tell: say nothing
    assert emulated_bf16(recipe("bf16"), "cpu") is None
    assert emulated_bf16(recipe("bf16"), "cuda", native=False) is None
    assert emulated_bf16(recipe("fp32"), "cpu", native=False) is None
