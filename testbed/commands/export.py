"""`testbed export CHECKPOINT --out models/NAME`: checkpoint -> verified model bundle
(see :mod:`testbed.export.writer`)."""

from __future__ import annotations

HELP = "Export a trained checkpoint as a model bundle of chained ONNX stage graphs."

EPILOG = """\
examples:
  testbed export runs/smoke-steppingnet/model.pt --out models/smoke-steppingnet
  testbed export runs/cpu-lenet5-steppingnet/model.pt --out models/lenet5-cifar10-steppingnet \\
      --data-root ~/data

Needs PyTorch (pip install -e '.[train]'). Checks that the chained ONNX stages match the
PyTorch subnets, then writes the eval record of every stage on the test split.
"""


def add_arguments(p):
    p.add_argument("checkpoint", help="checkpoint file written by testbed train")
    p.add_argument("--out", required=True, help="bundle folder, e.g. models/NAME")
    p.add_argument("--data-root", help="dataset root for the eval record (default $TESTBED_DATA)")
    p.add_argument("--limit", type=int, help="evaluate only the first N test samples")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads for verification/eval")


def run(args):
    from ..cli import need
    from ..errors import TestbedError
    need("torch", "train", "exporting (reading a PyTorch checkpoint)")
    from ..export.writer import export_checkpoint
    if args.limit is not None and args.limit < 1:
        raise TestbedError(f"--limit: expected a positive number of samples, got {args.limit}")
    out = export_checkpoint(args.checkpoint, args.out, args.data_root, limit=args.limit,
                            threads=args.threads)
    from ..bundle import load_bundle
    man = load_bundle(out).manifest
    accs = ", ".join(f"{s.accuracy:.3f}" for s in man.stages)
    print(f"wrote {out}: {man.method} {man.architecture}, {man.num_stages} stage(s), "
          f"accuracy per stage {accs} (ONNX Runtime, {man.raw['eval']['samples']} "
          f"{man.raw['eval']['split']} samples)")
