#!/usr/bin/env bash
# Train recipes in lanes side by side: each lane trains its recipes one after the other,
# each into runs/NAME (log runs/NAME.log, a progress line a minute), NAME being the recipe
# file's name without .yaml.
# Every run resumes where it stopped and a finished one returns at once, so after an
# interruption the same command continues; runs that need the same teacher at the same
# time wait for whichever trains it (the teacher cache's lock).
#   bash scripts/train_queue.sh [--threads N] [--carry] LANE [LANE ...]
# LANE: recipe names separated by commas. --threads N: OMP_NUM_THREADS for the runs
# (recipes that set compute.threads keep theirs); default 1 when there is more than one
# lane, so that lanes do not fight over the cores. --carry: runs longer than one machine's
# time: each into the tracked carry/NAME with its teacher in the tracked teachers/ (commit
# both before the machine goes; the same command continues on the next). DATA_ROOT:
# $TESTBED_DATA or ../shared/data.
# The XL LeNet-3C1L runs (a 200-epoch teacher shared by the four; README, Training):
#   nohup bash scripts/train_queue.sh --carry \
#     xl-lenet3c1l-steppingnet,xl-lenet3c1l-anywidth xl-lenet3c1l-slimmable,xl-lenet3c1l-static &
# The rest of issue 19 on a 2-core host, one lane per core:
#   nohup bash scripts/train_queue.sh \
#     long-lenet5-static,long-lenet5-steppingnet-faithful,long-lenet3c1l-slimmable,long-lenet3c1l-static \
#     long-lenet5-steppingnet,long-lenet3c1l-steppingnet,long-lenet3c1l-anywidth &
set -euo pipefail
threads=
outdir=runs
cache=()
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        --threads) threads=${2:?--threads needs a value}; shift 2 ;;
        --carry) outdir=carry; cache=(--teacher-cache teachers); shift ;;
        *) echo "train_queue.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: train_queue.sh [--threads N] [--carry] LANE [LANE ...]" >&2; exit 2; }
if [[ -z $threads ]]; then threads=$(( $# > 1 ? 1 : $(nproc) )); fi
data=${TESTBED_DATA:-../shared/data}
for lane in "$@"; do
    IFS=, read -ra names <<< "$lane"
    for name in "${names[@]}"; do
        [[ -f recipes/$name.yaml ]] || { echo "train_queue.sh: recipes/$name.yaml: no such recipe" >&2; exit 2; }
    done
done
mkdir -p runs "$outdir"
pids=()
for lane in "$@"; do
    (
        IFS=, read -ra names <<< "$lane"
        for name in "${names[@]}"; do
            echo "$(date -u +%FT%TZ) start $name" >&2
            OMP_NUM_THREADS=$threads testbed train "recipes/$name.yaml" --data-root "$data" \
                --out "$outdir/$name" ${cache[@]+"${cache[@]}"} --progress-lines >> "runs/$name.log" 2>&1 \
                || { echo "$(date -u +%FT%TZ) FAILED $name (runs/$name.log)" >&2; exit 1; }
            echo "$(date -u +%FT%TZ) done $name" >&2
        done
    ) &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
