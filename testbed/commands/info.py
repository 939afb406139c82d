"""`testbed info ARCH`: the layer table of an architecture with units and MACs, computed
from the same geometry and MAC accounting that training and export use."""

from __future__ import annotations

HELP = "Print an architecture's layer table with units and MACs."

EPILOG = """\
examples:
  testbed info lenet5
  testbed info lenet3c1l --width 1.8          # an expanded network, as SteppingNet trains it
  testbed info vgg16 --classes 100

MACs: an active conv weight costs kh*kw*H_out*W_out, a linear weight 1 (DESIGN.md section 2).
"""


def add_arguments(p):
    p.add_argument("arch", help="architecture name, e.g. lenet3c1l, lenet5, vgg16")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (expansion ratio)")
    p.add_argument("--classes", type=int, default=10, help="number of classes")
    p.add_argument("--input", default="3,32,32", help="input shape C,H,W (default 3,32,32)")


def run(args):
    from ..cost import dense_macs, layer_dense_macs, original_macs
    from ..errors import TestbedError
    from ..arch import ARCHS, geometry
    ARCHS.get(args.arch, where="ARCH")
    try:
        shape = tuple(int(v) for v in args.input.split(","))
        assert len(shape) == 3 and min(shape) > 0
        assert args.width > 0 and args.classes > 0
        layers = geometry(args.arch, args.width, args.classes, shape)
    except (ValueError, AssertionError) as exc:
        raise TestbedError(f"--input/--width/--classes: expected C,H,W > 0, width > 0, "
                           f"classes > 0 that fit {args.arch} ({exc or 'invalid'})") from None
    rows = [("layer", "type", "in", "out", "kernel", "out HxW", "pool", "MACs")]
    for g in layers:
        hw = f"{g.out_hw[0]}x{g.out_hw[1]}" if g.kind == "conv" else "-"
        kern = f"{g.kernel}x{g.kernel}" if g.kind == "conv" else "-"
        rows.append((g.name, g.kind, str(g.in_features), str(g.out_units), kern, hw,
                     str(g.pool or "-"), f"{layer_dense_macs(g):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    total = dense_macs(layers)
    ref = original_macs(args.arch, args.classes, shape)
    print(f"total MACs: {total:,} ({100 * total / ref:.1f}% of the original width-1.0 network, "
          f"{ref:,} MACs)")
