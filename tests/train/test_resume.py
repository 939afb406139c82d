"""An interrupted run resumed with the same command ends bit-identical to an
uninterrupted one (construction and retraining interruptions)."""

import pytest
import torch

from tests.train.conftest import SMOKE
from testbed.train.recipe import load_recipe
from testbed.train.runner import run_training


class Interrupt(Exception):
    pass


def run(out, cache, stop_at=None):
    saves = []

    def hook(state):
        if state["phase"] == "teacher":
            return
        saves.append(state["phase"])
        if stop_at is not None and len(saves) == stop_at:
            raise Interrupt(state["phase"])

    return run_training(load_recipe(SMOKE), None, out, show_progress=False, hook=hook,
                        teacher_cache=cache), saves


@pytest.mark.parametrize("phase,nth", [("construction", 3), ("retraining", 1)])
def test_resume_gives_the_same_final_state(smoke_reference, phase, nth):
    ref_summary, tmp, checks = smoke_reference
    ref_saves = [p for p in checks["saves"] if p != "teacher"]
    stop_at = [i for i, p in enumerate(ref_saves, 1) if p == phase][nth - 1]
    out = tmp / f"cut-{phase}"
    with pytest.raises(Interrupt):
        run(out, tmp / "teachers", stop_at)
    assert (out / "state.pt").exists() and not (out / "model.pt").exists()
    summary, _ = run(out, tmp / "teachers")
    a = torch.load(tmp / "run" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for key in ("subnets", "samples_seen", "history"):
        assert summary[key] == ref_summary[key]
    # the record shows both attempts, and their wall times add up to the run's
    attempts = summary["training"]["attempts"]
    assert [a["device"] for a in attempts] == ["cpu", "cpu"]
    assert ref_summary["training"]["attempts"][0]["device"] == "cpu"
    assert len(ref_summary["training"]["attempts"]) == 1
    assert sum(a["wall_s"] for a in attempts) == pytest.approx(summary["training"]["wall_time_s"], abs=0.3)
