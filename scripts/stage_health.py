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

from testbed.checkpoint import load_checkpoint
from testbed.data import load_split
from testbed.data.loader import normalize
from testbed.train.common import quick_subset
from testbed.train.health import stage_health


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
    report = stage_health(net, x, test.labels[idx])
    print(json.dumps({"checkpoint": args.checkpoint, **report}, indent=1))


if __name__ == "__main__":
    main()
