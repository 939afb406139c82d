#!/usr/bin/env bash
# Rebuild one shipped bundle from a finished training run, then every example report
# that reads the shipped bundles (the commands README lists, in one place).
#   bash scripts/refresh_shipped.sh METHOD [DATA_ROOT] [ARCH]
# e.g. bash scripts/refresh_shipped.sh steppingnet ../shared/data lenet5
# needs runs/cpu-ARCH-METHOD/model.pt (testbed train recipes/cpu-ARCH-METHOD.yaml ...);
# ARCH is lenet3c1l (default; every scenario but drone_obstacle) or lenet5 (drone_obstacle)
set -euo pipefail
method=${1:?usage: refresh_shipped.sh METHOD [DATA_ROOT] [ARCH]}
data=${2:-${TESTBED_DATA:-../shared/data}}
arch=${3:-lenet3c1l}
run=runs/cpu-$arch-$method
bundle=models/$arch-cifar10-$method
cp "$run/training.json" "reports/training/cpu-$arch-$method.json"
testbed export "$run/model.pt" --out "$bundle" --data-root "$data"
testbed profile "$bundle"
testbed compare-training reports/training/cpu-*.json --out reports/training
for s in autonomous_brake mobile_powersave thermal_throttle emergency_events faults drone_obstacle \
         autonomous_brake_rt phone_ui_rt; do
    testbed run "scenarios/$s.yaml"
done
testbed run scenarios/autonomous_brake.yaml --deadlines 10,15,20,25,30 \
    --out reports/autonomous_brake-deadlines
testbed sweep scenarios/sweeps/brake_deadlines.yaml
