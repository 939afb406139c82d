"""The host's calibrated latency model transferred to a shipped scenario's platform: the
``latency:`` constants its YAML copies from ``scenarios/platforms/host.yaml``.

    python scripts/transfer_latency.py scenarios/autonomous_brake.yaml [more scenarios]

Transferred: the data terms (compute on kernel MACs, memory, im2col) at the host's
ratios, times a ``scale`` chosen so that the reference graph (``--reference``, default the
static bundle's largest subnet) takes its dense MACs at the scenario's ``peak_gmacs``, as
the scenarios were sized. Not transferred: the host's per-call software terms (launch,
per operator, per tensor, job start), which each scenario replaces with its own
``stage_overhead_ms``. Prints, per scenario, the flow mapping to paste (variability kept
from the scenario) and each bundle's step milliseconds at budget 1.0 under it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def transfer(scenario_path: Path, host: Path, reference: str) -> dict:
    from testbed.bundle import load_bundle
    from testbed.calibrate.graphs import bundle_graphs
    from testbed.scenario import load_scenario
    from testbed.sim.latency import model_ms, step_ms
    from testbed.sim.platform import load_platform

    scenario = load_scenario(scenario_path)
    model = load_platform({"file": str(host.resolve())}, scenario_path, "latency").latency
    data_only = dataclasses.replace(model, launch_ms=0.0, node_us=0.0, io_us=0.0,
                                    job_start=None, scale=1.0, scale_to_peak=False)
    ref = load_bundle(ROOT / reference)
    graph = bundle_graphs(ref)[-1]
    peak = scenario.platform.peak_gmacs
    target_ms = graph.macs / (peak * 1e6)
    scale = target_ms / model_ms(data_only, graph)
    moved = dataclasses.replace(data_only, scale=round(scale, 2))
    steps = {}
    for spec in scenario.systems:
        name = spec.bundle.manifest.name
        if name not in steps:
            steps[name] = list(step_ms(moved, bundle_graphs(spec.bundle), peak))
    return {"scenario": str(scenario_path), "peak_gmacs": peak,
            "reference": f"{reference} subnet {len(ref.manifest.stages)}: "
                         f"{graph.macs:,} dense MACs -> {target_ms:.2f} ms",
            "latency": {"gmacs": _sig(model.gmacs), "gbps": _sig(model.gbps),
                        "expand_gbps": _sig(model.expand_gbps), "padded": model.padded,
                        "block": model.block,
                        "scale": round(scale, 2)},
            "step_ms": steps}


def _sig(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.6g}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="+", help="scenario YAML files")
    ap.add_argument("--host", default=str(ROOT / "scenarios/platforms/host.yaml"),
                    help="the calibrated platform file (default: %(default)s)")
    ap.add_argument("--reference", default="models/lenet3c1l-cifar10-static",
                    help="bundle whose largest subnet takes its dense MACs at peak_gmacs")
    a = ap.parse_args(argv)
    from testbed.errors import TestbedError
    for name in a.scenarios:
        try:
            out = transfer(Path(name), Path(a.host), a.reference)
        except TestbedError as exc:
            print(exc, file=sys.stderr)
            return 2
        lat = out["latency"]
        flow = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                         for k, v in lat.items() if v is not None)
        print(f"{out['scenario']} (peak_gmacs {out['peak_gmacs']}; {out['reference']})")
        print(f"  latency: {{{flow}, variability: ...}}")
        for bundle, ms in out["step_ms"].items():
            print(f"  {bundle}: {' + '.join(f'{m:.1f}' for m in ms)} = {sum(ms):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
