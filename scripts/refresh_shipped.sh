#!/usr/bin/env bash
# Rebuild shipped bundles from finished training runs, then every example report that
# reads the shipped bundles (the commands README lists, in one place).
#   bash scripts/refresh_shipped.sh [--prefix P] [--runs DIR] [--no-reports] [--calibrate] [ARCH METHOD...]
# e.g. bash scripts/refresh_shipped.sh --prefix long lenet5 steppingnet anywidth slimmable static
#      bash scripts/refresh_shipped.sh --runs carry --prefix xl lenet3c1l steppingnet anywidth slimmable static
# (no ARCH: re-ship nothing; `--calibrate` alone recalibrates and reruns every report)
# needs DIR/P-ARCH-METHOD/model.pt (testbed train recipes/P-ARCH-METHOD.yaml ...; P defaults
# to cpu, DIR to runs; train_queue.sh --carry trains into carry/); ARCH is lenet3c1l (every
# scenario but drone_obstacle) or lenet5 (drone_obstacle).
# Each bundle's training record replaces the shipped one's in reports/training/ (one record
# per shipped bundle, whatever recipe family or variant, e.g. -per_mac, it came from). DATA_ROOT: $TESTBED_DATA or
# ../shared/data. --no-reports: bundles and training comparison only. --calibrate: after the
# bundles, recalibrate the host's latency model on all shipped bundles
# (scenarios/platforms/host.yaml, reports/calibration; pause other work first: it times
# graphs on core 1) before the reports, which then use it. The reports include the host
# validation and its three variants (about 10 min together; they run for real on core 1).
set -euo pipefail
prefix=cpu
runs=runs
reports=1
calibrate=0
die() { echo "refresh_shipped.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        --prefix|--runs) [[ $# -gt 1 ]] || die "$1 needs a value" ;;
    esac
    case $1 in
        --prefix) prefix=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-reports) reports=0; shift ;;
        --calibrate) calibrate=1; shift ;;
        *) die "unknown option $1" ;;
    esac
done
arch=${1:-}
[[ $# -gt 0 ]] && shift
[[ -z $arch || $# -gt 0 ]] || die "name at least one METHOD after $arch"
data=${TESTBED_DATA:-../shared/data}
for method in "$@"; do
    run=$runs/$prefix-$arch-$method
    [[ -f $run/model.pt ]] || die "$run/model.pt: no finished run"
done
for method in "$@"; do
    run=$runs/$prefix-$arch-$method
    bundle=models/$arch-cifar10-$method
    rm -f reports/training/*-"$arch-$method".json reports/training/*-"$arch-$method"-*.json
    cp "$run/training.json" "reports/training/$prefix-$arch-$method.json"
    testbed export "$run/model.pt" --out "$bundle" --data-root "$data"
    testbed profile "$bundle"
done
[[ -z $arch ]] || testbed compare-training reports/training/*.json --out reports/training
if [[ $calibrate == 1 ]]; then
    testbed calibrate models/* --out scenarios/platforms/host.yaml --report reports/calibration \
        --repeats 1000 --quiet
fi
[[ $reports == 1 ]] || exit 0
for s in autonomous_brake mobile_powersave thermal_throttle emergency_events faults drone_obstacle \
         autonomous_brake_rt phone_ui_rt; do
    testbed run "scenarios/$s.yaml"
done
testbed run scenarios/autonomous_brake.yaml --deadlines 10,15,20,25,30 \
    --out reports/autonomous_brake-deadlines
testbed run scenarios/autonomous_brake.yaml --set platform.latency.padded=false \
    --out reports/autonomous_brake-unpadded
testbed sweep scenarios/sweeps/brake_deadlines.yaml
testbed validate scenarios/host_validation.yaml --out reports/host_validation --data-root "$data"
testbed validate scenarios/host_validation.yaml --mechanism dilation \
    --out reports/host_validation-dilation --data-root "$data"
testbed validate scenarios/host_validation.yaml --set workload.frame.deadline_ms=0.6 --repeat 1 \
    --out reports/host_validation-edge --data-root "$data"
testbed validate scenarios/host_validation.yaml --set workload.frame.period_ms=4 --repeat 1 \
    --out reports/host_validation-idle4 --data-root "$data"
