"""`testbed inspect models/NAME`: validate a bundle (checksums, stage metadata, MACs
recounted from the graphs, chainability, eval record) and print its manifest as a table."""

from __future__ import annotations

HELP = "Print a bundle's manifest as a table and validate the bundle."

EPILOG = """\
examples:
  testbed inspect models/lenet5-cifar10-steppingnet

Checks checksums, stage metadata, the MACs recounted from the ONNX graphs, that the stages
chain, and the eval record; a broken bundle ends with one line naming what is wrong (exit 2).
"""


def add_arguments(p):
    p.add_argument("bundle", help="model bundle folder")


def run(args):
    from ..export.validate import validate_bundle
    bundle = validate_bundle(args.bundle)
    for line in manifest_lines(bundle.manifest):
        print(line)
    print(f"bundle OK: {bundle.manifest.num_stages} stage(s) chain, checksums match, "
          f"MACs recounted from the graphs, eval record of {len(bundle.eval.labels)} samples")


def manifest_lines(man) -> list[str]:
    lines = [f"{key:<18} {value}" for key, value in (
        ("name", man.name), ("method", man.method), ("architecture", man.architecture),
        ("dataset", f"{man.dataset} ({len(man.classes)} classes)"),
        ("input", f"{man.input['shape']} mean {man.input['mean']} std {man.input['std']}"),
        ("incremental", man.incremental), ("original_macs", f"{man.original_macs:,}"),
        ("original_accuracy", f"{man.original_accuracy:.4f}"),
        ("training", ", ".join(f"{k}={v}" for k, v in man.training.items()
                               if not isinstance(v, (dict, list)))))]
    rows = [("stage", "file", "MACs", "dense MACs", "cumulative", "% orig", "params", "accuracy", "sha256")]
    for s in man.stages:
        pct = 100 * s.cumulative_macs / man.original_macs if man.original_macs else float("nan")
        rows.append((str(s.index), s.file, f"{s.macs:,}", f"{s.macs_dense:,}", f"{s.cumulative_macs:,}",
                     f"{pct:.1f}", f"{s.params:,}", f"{s.accuracy:.4f}", s.sha256[:12]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines.append("")
    for r in rows:
        lines.append("  ".join(c.rjust(w) if 1 < i < 8 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    return lines
