"""Stage health of a trained NestedNet checkpoint (steppingnet / anywidth): per stage and
hidden layer, the number of units, their mean |BatchNorm scale| and mean BN bias, and the
share of units that are dead (ReLU output 0 on every one of N test images); then how many
test images change prediction from subnet k-1 to subnet k. A stage whose last-layer units
are all dead cannot change the logits, whatever it computes before.

    python scripts/stage_health.py runs/cpu-lenet3c1l-steppingnet/model.pt --data-root ../shared/data

Prints JSON.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from testbed.checkpoint import load_checkpoint
from testbed.data import load_split
from testbed.data.loader import normalize
from testbed.train import compact
from testbed.train.common import quick_subset


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--images", type=int, default=2000)
    args = ap.parse_args()
    net, meta = load_checkpoint(args.checkpoint)
    test = load_split(meta["dataset"], args.data_root, "test")
    idx = quick_subset(len(test), args.images)
    x = normalize(test.images[idx], test.info.mean, test.info.std)
    # per-unit activity: forward the largest subnet on its units, recording post-ReLU maxima
    alive, h, prev = [], x, None
    for i, layer in enumerate(net.hidden):
        rows = torch.nonzero(layer.step <= net.num_steps).flatten()
        cols = compact._cols(prev, layer.geom.in_per_unit, layer.geom.in_features, x.device)
        w = compact._weight(layer, net.in_steps(i), rows, cols, False)
        b = layer.bias.index_select(0, rows)
        h = F.conv2d(h, w, b, padding=layer.geom.padding) if layer.geom.kind == "conv" \
            else F.linear(h.flatten(1), w, b)
        if layer.bn is not None:
            h = compact._batchnorm(layer.bn, h, rows)
        h = F.relu(h)
        active = torch.zeros(layer.step.numel(), dtype=torch.bool)
        active[rows] = h.transpose(0, 1).reshape(len(rows), -1).amax(1) > 0
        alive.append(active)
        if layer.geom.pool:
            h = F.max_pool2d(h, layer.geom.pool)
        prev = rows
    layers = []
    for i, layer in enumerate(net.hidden):
        per = []
        for k in range(1, net.num_steps + 1):
            sel = layer.step == k
            n = int(sel.sum())
            per.append({"stage": k, "units": n,
                        "bn_scale_abs": round(float(layer.bn.weight[sel].abs().mean()), 4) if n and layer.bn is not None else None,
                        "bn_bias": round(float(layer.bn.bias[sel].mean()), 4) if n and layer.bn is not None else None,
                        "dead": int((~alive[i][sel]).sum()) if n else 0})
        layers.append({"layer": i, "kind": layer.geom.kind, "stages": per})
    preds = [o.argmax(1) for o in compact.forward_all(net, x)]
    y = test.labels[idx]
    print(json.dumps({"checkpoint": args.checkpoint, "images": len(idx), "layers": layers,
                      "accuracy": [round(float((p == y).float().mean()), 4) for p in preds],
                      "changed_from_previous_subnet": [None] + [int((a != b).sum()) for a, b in zip(preds, preds[1:])]},
                     indent=1))


if __name__ == "__main__":
    main()
