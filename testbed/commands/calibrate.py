"""`testbed calibrate BUNDLE... --out scenarios/platforms/NAME.yaml`: fit the latency
model of ``cost_model: latency`` to this host (see :mod:`testbed.calibrate`)."""

from __future__ import annotations

HELP = "Fit the latency model (cost_model: latency) to this host's measured stage latencies."

EPILOG = """\
examples:
  testbed calibrate models/* --out scenarios/platforms/host.yaml --report reports/calibration
  testbed calibrate models/lenet5-cifar10-steppingnet --out /tmp/p.yaml --repeats 50

Pins the process to one core (--core, default: the last one it may use), times every
stage, monolithic subnet and chained subnet with ONNX Runtime on one thread, fits
launch_ms, node_us, io_us, gmacs, gbps and expand_gbps, and writes the platform file,
NAME_samples.json beside it (the measured variability) and calibration.json, report.md
and a plot into the report folder (default: NAME-calibration/ beside the platform file).
"""


def add_arguments(p):
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="model bundle folders")
    p.add_argument("--out", required=True, help="platform file to write (.yaml)")
    p.add_argument("--report", default=None, help="report folder (calibration.json, "
                   "report.md, plot)")
    p.add_argument("--core", type=int, default=None, help="CPU core to pin to")
    p.add_argument("--warmup", type=int, default=20, help="untimed rounds first")
    p.add_argument("--repeats", type=int, default=300, help="timed rounds (every graph once "
                   "per round)")
    p.add_argument("--simple", action="store_true", help="ship the simple model, launch + "
                   "max(dense MACs, memory), without the operator, input/output and im2col "
                   "terms and without the blocked convolutions' channel padding (padded: false)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--probe-s", type=float, default=2.0, metavar="S",
                   help="watch the core's steadiness for S seconds before and after "
                   "measuring (a fixed loop, no model; default 2; 0: no)")


def run(args):
    from pathlib import Path

    from ..calibrate.run import calibrate
    res = calibrate(args.bundles, Path(args.out), args.report and Path(args.report),
                    core=args.core, warmup=args.warmup, repeats=args.repeats,
                    full=not args.simple, progress=not args.quiet, probe_s=args.probe_s)
    m, e = res["model"], res["errors"]
    gbps = f"{m['gbps']:.3g} GB/s" if m["gbps"] else "no memory term"
    expand = f"im2col at {m['expand_gbps']:.3g} GB/s" if m["expand_gbps"] else "no im2col term"
    print(f"core {res['host']['core']}: launch {m['launch_ms']:.4f} ms, {m['node_us']:.3f} us "
          f"per operator, {m['io_us']:.3f} us per input/output, "
          f"{m['gmacs'] or float('inf'):.3g} GMAC/s, {gbps}, {expand}")
    print(f"channel block {m['block']} (vector instructions: "
          f"{res['host'].get('vector') or 'unknown'})")
    for kind, err in e.items():
        if err:
            print(f"{kind:>10}: median error {err['median']:.1%}, worst {err['worst']:.1%} "
                  f"({err['worst_graph']}; {err['n']} graphs)")
    print(f"wrote {res['files']['platform']}, {res['files']['samples']} and "
          f"{res['files']['report']}/ (calibration.json, report.md, plot)")
