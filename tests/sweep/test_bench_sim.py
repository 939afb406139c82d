"""scripts/bench_sim.py keeps working: its speed and memory parts on a few simulated
seconds (the full run, with the 40-point sweep, takes minutes)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_sim.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_sim", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_speed_and_memory_parts(tmp_path):
    bench = load_bench()
    bench.make_models(tmp_path)
    speed = bench.speed(tmp_path, hours=10 / 3600, repeat=1)
    assert list(speed) == [name for name, _ in bench.SYSTEMS]
    for figures in speed.values():
        assert figures["jobs"] == 301 and figures["simpy_processes"] == 1
        assert figures["simpy_timeouts"] <= figures["jobs"] and figures["ratio_to_bare"] > 0
    memory = bench.memory(tmp_path, (5 / 3600, 20 / 3600))
    assert memory["runs"]["0.00555556h"]["rows"] == 601 and memory["ratio"] > 0
