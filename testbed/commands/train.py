"""`testbed train RECIPE`: train a model from a recipe into a run folder (resumable).

Thin CLI wrapper over :func:`testbed.train.runner.run_training`; prints where the
checkpoint and the training record went and the per-subnet MACs and accuracy.
"""

from __future__ import annotations

import sys

import shlex

HELP = "Train a model from a recipe (steppingnet, anywidth, slimmable, static)."

EPILOG = """\
examples:
  testbed train recipes/smoke-steppingnet.yaml --out runs/smoke     # seconds, synthetic data
  testbed train recipes/cpu-lenet5-steppingnet.yaml --data-root ~/data --device cuda

Needs PyTorch (pip install -e '.[train]'). Interrupted? Run the same command again: it
resumes from OUT/state.pt (also on another --device). Then: testbed export OUT/model.pt.
"""


def add_arguments(p):
    p.add_argument("recipe", help="recipe YAML file (see recipes/)")
    p.add_argument("--data-root", help="dataset root (default $TESTBED_DATA)")
    p.add_argument("--out", help="run folder (default runs/<recipe name>/); re-run to resume")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where to train: cpu (default) or cuda, the first CUDA GPU (needs a "
                        "CUDA build of torch); a run may resume on the other device, and the "
                        "record lists the device of every attempt")
    p.add_argument("--teacher-cache", help="folder of cached teachers (default OUT/../teachers)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--no-progress", action="store_true", help="no progress bars")
    shown.add_argument("--progress-lines", action="store_true",
                       help="instead of bars, one timestamped progress line a minute on "
                            "stderr (for the log of a run in the background)")


def command_line(args) -> str:
    parts = ["testbed", "train", args.recipe]
    for flag, value in (("--data-root", args.data_root), ("--out", args.out),
                        ("--device", args.device), ("--teacher-cache", args.teacher_cache)):
        if value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


def run(args):
    from ..cli import need
    need("torch", "train", "training")
    from ..train.recipe import load_recipe
    from ..train.runner import run_training
    recipe = load_recipe(args.recipe)
    slow = emulated_bf16(recipe, args.device)
    if slow:
        print(f"warning: {slow}", file=sys.stderr)
    out = args.out or f"runs/{recipe.name}"
    summary = run_training(recipe, args.data_root, out, args.device, command=command_line(args),
                           show_progress=progress_mode(args), teacher_cache=args.teacher_cache)
    print(f"{out}/model.pt  (training record: {out}/training.json)")
    print(f"original: {summary['original_macs']:,} MACs, accuracy {summary['original_accuracy']:.4f}")
    for s in summary["subnets"]:
        print(f"subnet {s['index']}: {s['macs_pct']:6.2f}% MACs ({s['macs_dense_pct']:6.2f}% dense), "
              f"accuracy {s['accuracy']:.4f}")
    missed = missed_targets(summary)
    if missed:
        print(f"warning: {missed}", file=sys.stderr)
    weak = weak_teacher(summary)
    if weak:
        print(f"warning: {weak}", file=sys.stderr)
    silent = summary.get("stage_health", {}).get("silent_stages")
    if silent:
        print(f"warning: step(s) {', '.join(map(str, silent))} change no prediction on "
              f"{summary['stage_health']['images']} test images (dead units: "
              f"python scripts/stage_health.py {out}/model.pt)", file=sys.stderr)
    return 0


def emulated_bf16(recipe, device: str, native: bool | None = None) -> str | None:
    """A warning when the recipe asks for bfloat16 on a CPU that has no native bfloat16
    (``native``: whether it has; None: ask :func:`testbed.profile.native_bf16`)."""
    from ..profile import native_bf16
    if recipe.compute.precision != "bf16" or device != "cpu":
        return None
    if (native_bf16() if native is None else native) is not False:
        return None
    return (f"{recipe.file or recipe.name}: compute.precision: bf16 on a CPU without native "
            "bfloat16 (no AVX512-BF16/AMX): PyTorch emulates it, many times slower than fp32 "
            "(measured on an AVX2 host: reports/bench/bench_train-avx2.json); set "
            "compute.precision: fp32 for this host (reports/bench/bf16_accuracy_30ep.json: "
            "same accuracy within noise)")


def progress_mode(args) -> bool | str:
    return "lines" if args.progress_lines else not args.no_progress


def missed_targets(summary: dict) -> str | None:
    """A warning when the run's subnets miss their MAC targets (the method's own tolerance
    decided ``targets_reached``), naming each subnet's MACs against its target."""
    if summary.get("targets_reached", True):
        return None
    far = ", ".join(f"{s['macs_pct']:.2f}% for {s['target_pct']:.2f}%"
                    for s in summary["subnets"] if s.get("target_pct") is not None)
    return (f"the subnets miss their MAC targets (MACs for target: {far}): a longer construction "
            "(steppingnet.iterations) gives coarse units more rounds to land")


def weak_teacher(summary: dict) -> str | None:
    """A warning when the original network (the teacher) is no better than chance, which
    makes its accuracy and its distillation meaningless (it trained too briefly)."""
    classes = summary.get("num_classes")
    acc = summary["original_accuracy"]
    if not classes or acc > 1.5 / classes:
        return None
    return (f"the original network scored {acc:.4f}, about chance ({1 / classes:.4f}): its "
            f"training was too short (raise teacher.epochs in the recipe)")
