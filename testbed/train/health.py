"""Stage health of a trained NestedNet (steppingnet / any-width): which units are dead and
whether each step changes any prediction.

A unit is *dead* on a set of images when its ReLU output is 0 everywhere on all of them;
a stage whose last-hidden-layer units are all dead cannot change the logits, whatever its
earlier units compute (they reach the classifier only through that layer). Used by
``scripts/stage_health.py`` and by the trainer's final summary; no I/O.
"""

from __future__ import annotations

import torch

from . import compact


@torch.no_grad()
def unit_activity(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Per hidden layer, a bool per unit: active (non-zero ReLU output) on some image of
    ``x`` when the largest subnet runs (eval mode)."""
    alive = [torch.zeros(layer.step.numel(), dtype=torch.bool, device=x.device)
             for layer in net.hidden]

    def watch(i, rows, out):
        alive[i][rows] = out.transpose(0, 1).reshape(len(rows), -1).amax(1) > 0

    was = net.training
    net.eval()
    compact.features(net, x, net.num_steps, watch=watch)
    net.train(was)
    return alive


def stage_units(net) -> list[list[int]]:
    """Per hidden layer: its units in stage 1..K, then the unused ones (stage K+1)."""
    return [[int((layer.step == k).sum()) for k in range(1, net.num_steps + 2)]
            for layer in net.hidden]


@torch.no_grad()
def stage_health(net, x: torch.Tensor, y: torch.Tensor | None = None) -> dict:
    """Per layer and stage: units, mean |BN scale|, mean BN bias, dead units; per subnet:
    accuracy (if labels are given) and how many images change prediction from the
    previous subnet; ``silent_stages``: steps > 1 that change no prediction."""
    alive = unit_activity(net, x)
    layers = []
    for i, layer in enumerate(net.hidden):
        stages = []
        for k in range(1, net.num_steps + 1):
            sel = layer.step == k
            n = int(sel.sum())
            bn = layer.bn if n and layer.bn is not None else None
            stages.append({"stage": k, "units": n,
                           "bn_scale_abs": round(float(bn.weight[sel].abs().mean()), 4) if bn else None,
                           "bn_bias": round(float(bn.bias[sel].mean()), 4) if bn else None,
                           "dead": int((~alive[i][sel]).sum())})
        layers.append({"layer": i, "kind": layer.geom.kind, "stages": stages})
    was = net.training
    net.eval()
    preds = [o.argmax(1) for o in compact.forward_all(net, x)]
    net.train(was)
    changed = [int((a != b).sum()) for a, b in zip(preds, preds[1:])]
    out = {"images": len(x), "layers": layers, "changed_from_previous_subnet": [None] + changed,
           "silent_stages": [k + 2 for k, c in enumerate(changed) if c == 0]}
    if y is not None:
        out["accuracy"] = [round(float((p == y).float().mean()), 4) for p in preds]
    return out
