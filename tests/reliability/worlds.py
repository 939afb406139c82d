"""Hypothesis strategies for the property tests: random bundles, budget traces, workloads
and faults, written to a folder as a scenario the real loader validates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from hypothesis import strategies as st

from tests.toybundle import make_toy_bundle

METHODS = ("steppingnet", "anywidth", "slimmable", "static")
ONLINE = {"incremental": ({"name": "greedy"}, {"name": "deadline_aware"},
                          {"name": "deadline_aware", "margin": 0.0, "min_stages": 0},
                          {"name": "confidence", "threshold": 0.8}, {"name": "fixed", "k": 1}),
          "non_incremental": ({"name": "pick_at_start"}, {"name": "pick_at_start", "restart": True},
                              {"name": "fixed", "k": 1})}


@dataclass(frozen=True)
class World:
    bundles: dict          # name -> {"method", "stage_macs", "correct"}
    raw: dict              # the scenario, models named by bundle name (relative paths)

    def write(self, folder: Path) -> Path:
        for name, b in self.bundles.items():
            make_toy_bundle(folder / name, method=b["method"], stage_macs=b["stage_macs"],
                            correct=b["correct"], num_samples=len(b["correct"]))
        path = folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(self.raw, sort_keys=False))
        return path


@st.composite
def bundles(draw, method: str | None = None) -> dict:
    method = method or draw(st.sampled_from(METHODS))
    k = draw(st.integers(1, 5))
    n = draw(st.integers(3, 12))
    macs = draw(st.lists(st.integers(10_000, 2_000_000), min_size=k, max_size=k))
    correct = draw(st.lists(st.lists(st.booleans(), min_size=k, max_size=k),
                            min_size=n, max_size=n))
    return {"method": method, "stage_macs": macs, "correct": np.array(correct, dtype=bool)}


@st.composite
def step_budgets(draw, duration_s: float) -> dict:
    n = draw(st.integers(1, 8))
    times = sorted(draw(st.lists(st.floats(0.001, duration_s), min_size=n - 1, max_size=n - 1)))
    values = draw(st.lists(st.sampled_from((0.0, 0.1, 0.25, 0.5, 0.8, 1.0)),
                           min_size=n, max_size=n))
    return {"kind": "step", "times_s": [0.0] + times, "budgets": values}


@st.composite
def budgets(draw, duration_s: float) -> dict:
    return draw(st.one_of(
        step_budgets(duration_s),
        st.builds(lambda rate, lo, hi: {"kind": "contention", "base": 1.0, "bursts": [
            {"rate_hz": rate, "share": [lo, max(lo, hi)], "duration_ms": [5, 80]}]},
            st.floats(0.5, 20), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
        st.builds(lambda s, sig: {"kind": "random_walk", "start": s, "sigma": sig,
                                  "step_ms": 20},
                  st.floats(0.05, 1.0), st.floats(0.0, 0.3))))


@st.composite
def periodic_class(draw, name: str = "camera", priority: int = 0,
                   no_overlap: bool = False) -> dict:
    period = draw(st.floats(5.0, 60.0))
    jitter = draw(st.floats(0.0, period * 0.3))
    top = period - jitter if no_overlap else period * 2
    deadline = draw(st.floats(min(2.0, top), top))
    overrun = draw(st.sampled_from(("queue", "skip_new", "drop_old")))
    return {"name": name, "kind": "periodic", "period_ms": period, "jitter_ms": jitter,
            "deadline_ms": deadline, "priority": priority, "overrun": overrun}


@st.composite
def workloads(draw) -> list:
    classes = [draw(periodic_class())]
    if draw(st.booleans()):
        classes.append({"name": "alarm", "kind": "sporadic", "rate_hz": draw(st.floats(1, 30)),
                        "deadline_ms": draw(st.floats(2, 40)), "priority": draw(st.integers(0, 2)),
                        "overrun": draw(st.sampled_from(("queue", "skip_new", "drop_old")))})
    return classes


@st.composite
def fault_sections(draw, stage_failures: bool = True) -> dict | None:
    """None (a quarter of the time) or a faults section with 1-5 kinds of fault."""
    if draw(st.integers(0, 3)) == 0:
        return None
    kinds = ["stalls", "dropouts", "bursts", "budget_signal"] + \
        (["stage_failures"] if stage_failures else [])
    chosen = draw(st.sets(st.sampled_from(kinds), min_size=1))
    make = {
        "stalls": lambda: {"rate_hz": draw(st.floats(0.5, 10)), "duration_ms": [5, 60]},
        "dropouts": lambda: {"rate_hz": draw(st.floats(0.5, 10)), "duration_ms": [5, 60]},
        "bursts": lambda: {"rate_hz": draw(st.floats(0.5, 5)), "duration_ms": [10, 60],
                           "period_ms": draw(st.floats(2, 20))},
        "stage_failures": lambda: {"probability": draw(st.floats(0.0, 0.5))},
        "budget_signal": lambda: {"noise": draw(st.floats(0, 0.5)),
                                  "bias": draw(st.floats(-0.5, 0.5)),
                                  "delay_ms": draw(st.floats(0, 30))},
    }
    return {k: make[k]() for k in kinds if k in chosen}


def scenario(bundles_: dict, systems: list, workload: list, budget: dict, duration_s: float,
             seed: int, faults: dict | None, peak: float, overhead_ms: float) -> dict:
    raw = {"name": "world", "seed": seed, "duration_s": duration_s,
           "platform": {"peak_gmacs": peak, "stage_overhead_ms": overhead_ms, "pj_per_mac": 1.0},
           "budget": budget, "workload": workload, "cost_model": "macs", "systems": systems}
    if faults:
        raw["faults"] = faults
    return raw


def kind(method: str) -> str:
    return "incremental" if method in ("steppingnet", "anywidth") else "non_incremental"


@st.composite
def worlds(draw, faults: bool = True, stage_failures: bool = True) -> World:
    """2-4 systems over 1-2 random bundles (same samples), random budget and workload."""
    duration = draw(st.floats(0.2, 1.5))
    first = draw(bundles())
    second = draw(bundles())
    second["correct"] = _resize(second["correct"], len(first["correct"]))
    found = {"b0": first, "b1": second}
    systems = []
    for i in range(draw(st.integers(2, 4))):
        b = draw(st.sampled_from(sorted(found)))
        policy = draw(st.sampled_from(ONLINE[kind(found[b]["method"])]))
        if policy["name"] == "fixed":
            policy = {"name": "fixed", "k": draw(st.integers(1, len(found[b]["stage_macs"])))}
        systems.append({"name": f"s{i}", "model": b, "policy": policy})
    raw = scenario(found, systems, draw(workloads()), draw(budgets(duration)), duration,
                   draw(st.integers(0, 10_000)),
                   draw(fault_sections(stage_failures)) if faults else None,
                   draw(st.sampled_from((0.2, 0.5, 1.0))), draw(st.sampled_from((0.0, 0.2))))
    return World(found, raw)


def _resize(correct: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(correct))
    return np.concatenate([correct] * reps)[:n]
