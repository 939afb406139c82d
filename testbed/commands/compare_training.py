"""`testbed compare-training RESULT.json...`: the paper's Fig. 6 for your own runs.

Reads the ``training.json`` records ``testbed train`` writes (any method), groups them by
(architecture, dataset), and writes under ``--out``, per group, a plot of test accuracy
against % of the original network's MACs with one line per run (``<arch>-<dataset>.png``;
each method in its colour and marker of :mod:`testbed.report.style`, as in run reports)
and one markdown table of every subnet of every run (``comparison.md``); with
``--reference RUN``, also each run of RUN's group against it: accuracy and MACs per subnet
in points, and the recipe keys it differs in (an ablation table). A malformed
record is a :class:`~testbed.errors.ConfigError` naming the file and the field. Reads
JSON, draws with matplotlib (Agg, no pyplot); no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..report import style

HELP = "Plot accuracy against % of original MACs for every method; write the table."

EPILOG = """\
examples:
  testbed compare-training runs/*/training.json                  # -> reports/training/
  testbed compare-training runs/cpu-lenet5-*/training.json --out reports/lenet5

  testbed compare-training reports/training-ablate-lenet5/*.json \
      --reference alloc3-lenet5-steppingnet-per_mac --out reports/training-ablate-lenet5

Writes one plot per (architecture, dataset) and comparison.md with every subnet of every run
(--reference RUN: every run against RUN and the recipe keys in which it differs).
"""

@dataclass(frozen=True)
class Run:
    """One training record, reduced to what the comparison needs."""
    file: str
    method: str
    name: str
    arch: str
    dataset: str
    original_accuracy: float
    samples_seen: int
    macs_pct: tuple[float, ...]
    accuracy: tuple[float, ...]
    wall_s: float | None = None
    recipe: dict | None = None

    @property
    def run(self) -> str:
        """The run's name: its record's file name, or its folder's for a ``training.json``
        (records of one method, e.g. ablations, often share one bundle ``name``)."""
        path = Path(self.file)
        return path.parent.name if path.stem == "training" else path.stem

    @property
    def label(self) -> str:
        return self.method if self.run.endswith(self.method) else f"{self.method} ({self.run})"


def add_arguments(p):
    p.add_argument("results", nargs="+", help="training.json files")
    p.add_argument("--out", default="reports/training", help="output folder")
    p.add_argument("--reference", metavar="RUN",
                   help="a run's name (its record's file name, or folder for a "
                        "training.json): every run of its group against it, with the "
                        "recipe keys each differs in")


def run(args):
    runs = [read_run(path) for path in args.results]
    names = [r.run for r in runs]
    if args.reference is not None and args.reference not in names:
        raise ConfigError(None, "--reference", f"the name of one of the runs ({', '.join(names)})",
                          args.reference)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group(runs)
    for (arch, dataset), members in groups.items():
        path = out / f"{arch}-{dataset}.png"
        figure(arch, dataset, members).savefig(path, dpi=120)
        print(path)
    (out / "comparison.md").write_text(markdown(groups, args.reference))
    print(out / "comparison.md")
    return 0


# -- reading ------------------------------------------------------------------------------
def read_run(path) -> Run:
    try:
        blob = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(path, None, "an existing training.json file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(path, None, f"a JSON training record ({exc})") from None
    if not isinstance(blob, dict):
        raise ConfigError(path, None, "a JSON object (a training record)", blob)
    subnets = _field(blob, "subnets", list, path)
    if not subnets:
        raise ConfigError(path, "subnets", "a non-empty list", subnets)
    pct = tuple(_number(s, "macs_pct", path, f"subnets[{i}]") for i, s in enumerate(subnets))
    acc = tuple(_number(s, "accuracy", path, f"subnets[{i}]") for i, s in enumerate(subnets))
    return Run(str(path), _field(blob, "method", str, path), str(blob.get("name", "")),
               _field(blob, "arch", str, path), _field(blob, "dataset", str, path),
               float(_number(blob, "original_accuracy", path)),
               int(_number(blob, "samples_seen", path)), pct, acc, _wall(blob),
               blob["recipe"] if isinstance(blob.get("recipe"), dict) else None)


def _wall(blob: dict) -> float | None:
    value = blob.get("wall_time_s")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _field(blob, key: str, kind: type, path, where: str = ""):
    value = blob.get(key) if isinstance(blob, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        name = f"{where}.{key}" if where else key
        raise ConfigError(path, name, f"a {kind.__name__}", value)
    return value


def _number(blob, key: str, path, where: str = "") -> float:
    value = blob.get(key) if isinstance(blob, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"{where}.{key}" if where else key, "a number", value)
    return value


def group(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs by (arch, dataset), in a stable order: methods as in style.KNOWN, then by name."""
    order = list(style.KNOWN)
    out: dict[tuple[str, str], list[Run]] = {}
    for r in sorted(runs, key=lambda r: (order.index(r.method) if r.method in order else len(order),
                                         r.name, r.file)):
        out.setdefault((r.arch, r.dataset), []).append(r)
    return dict(sorted(out.items()))


# -- drawing and writing ----------------------------------------------------------------
LINES = ("-", "--", ":", "-.")  # the first, second, ... run of one method


def figure(arch: str, dataset: str, runs: list[Run]):
    """Accuracy (%) against % of original MACs, one line per run in its method's
    :mod:`~testbed.report.style` (further runs of a method: other dashes); the original
    network's accuracy as a dashed line at 100% MACs."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    seen: dict[str, int] = {}
    looks = style.styles(r.method for r in runs)
    for r in runs:
        n = seen[r.method] = seen.get(r.method, -1) + 1  # runs of one method (ablations)
        kw = looks[r.method].line() | {"linestyle": LINES[n % len(LINES)]}
        ax.plot(r.macs_pct, [100 * a for a in r.accuracy], alpha=1.0 if n == 0 else 0.75,
                label=r.label, **kw)
    originals = sorted({r.original_accuracy for r in runs})
    for a in originals:
        ax.axhline(100 * a, color="k", lw=0.8, ls="--")
    ax.plot([], [], color="k", lw=0.8, ls="--", label="original network")
    ax.set_xlabel("MACs (% of the original network)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{arch} on {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def markdown(groups: dict[tuple[str, str], list[Run]], reference: str | None = None) -> str:
    lines = ["# Accuracy against MACs per method", ""]
    for (arch, dataset), runs in groups.items():
        lines += [f"## {arch} on {dataset}", "",
                  "| method | run | subnet | MACs (% of original) | accuracy (%) | "
                  "original accuracy (%) | samples seen |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in runs:
            for k, (pct, acc) in enumerate(zip(r.macs_pct, r.accuracy), start=1):
                lines.append(f"| {r.method} | {r.run} | {k} | {pct:.2f} | {100 * acc:.2f} | "
                             f"{100 * r.original_accuracy:.2f} | {r.samples_seen:,} |")
        lines.append("")
        lines += _budget_note(runs)
        lines += _against_paper(arch, dataset, runs)
        ref = next((r for r in runs if r.run == reference), None)
        if ref is not None:
            lines += _against_reference(ref, runs)
    return "\n".join(lines)


def _against_reference(ref: Run, runs: list[Run]) -> list[str]:
    """Every other run against ``ref``: accuracy (and MACs) per subnet in points, and
    the recipe keys in which the two differ (an ablation table)."""
    k = len(ref.accuracy)
    lines = [f"### Against {ref.run}", "",
             f"Accuracy − {ref.run}'s per subnet, points (MACs − its MACs, points of the "
             f"original's); its own: " + " / ".join(
                 f"{100 * a:.2f} @ {m:.2f}%" for a, m in zip(ref.accuracy, ref.macs_pct))
             + ". \"Differs in\" lists recipe keys only: runs trained by different versions "
             "of the code differ in that too.",
             "", "| run | differs in | " + " | ".join(f"subnet {i}" for i in range(1, k + 1))
             + " |", "|---|---|" + "---:|" * k]
    for r in runs:
        if r is ref or len(r.accuracy) != k:
            continue
        cells = [f"{100 * (a - b):+.2f} ({m - n:+.1f})" for a, b, m, n in
                 zip(r.accuracy, ref.accuracy, r.macs_pct, ref.macs_pct)]
        changed = recipe_differences(ref.recipe, r.recipe)
        lines.append(f"| {r.run} | {'; '.join(changed) or '—'} | " + " | ".join(cells) + " |")
    return lines + [""]


#: Recipe keys that name a run rather than shape it.
NAMING_KEYS = ("name", "bundle_name")


def recipe_differences(ref: dict | None, other: dict | None) -> list[str]:
    """``key: ref value → other value`` for every recipe key that differs (dotted paths;
    keys added to recipes later count at the value older runs trained with)."""
    if ref is None or other is None:
        return ["(recipe not recorded)"]
    out: list[str] = []

    def walk(a, b, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if path or key not in NAMING_KEYS:
                    walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b:
            out.append(f"{path}: {_plain(a)} → {_plain(b)}")

    from ..train.recipe import with_later_keys
    a, b = with_later_keys(ref), with_later_keys(other)
    if a.get("method") != b.get("method"):      # different methods: their sections differ
        for recipe in (a, b):                   # wholesale; name the methods only
            for section in (a.get("method"), b.get("method")):
                recipe.pop(section, None)
    walk(a, b, "")
    return out


def _plain(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


# The paper's Table I (SteppingNet): original accuracy, (accuracy, % of MACs) per subnet.
TABLE_I = {("lenet3c1l", "cifar10"): (83.36, ((68.5, 9.65), (77.38, 29.55), (79.81, 48.62),
                                               (80.4, 78.52))),
           ("lenet5", "cifar10"): (74.96, ((51.8, 13.64), (59.56, 26.54), (68.64, 55.07),
                                           (72.03, 82.74)))}
RIVALS = ("anywidth", "slimmable")  # the paper's Fig. 6 baselines


def _against_paper(arch: str, dataset: str, runs: list[Run]) -> list[str]:
    """Table I beside every run (SteppingNet runs with their difference to it, points),
    with each run's wall time, and SteppingNet against the better of any-width and
    slimmable at each subnet (the paper's claim)."""
    paper = TABLE_I.get((arch, dataset))
    k = max(len(r.accuracy) for r in runs)
    lines = ["### Against the paper's Table I", "",
             "| run | original (%) | " + " | ".join(f"subnet {i}" for i in range(1, k + 1))
             + " | wall |", "|---|---:|" + "---:|" * k + "---:|"]

    def row(label: str, original: str, cells: list[str], wall: str) -> str:
        return "| " + " | ".join([label, original, *cells, *[""] * (k - len(cells)), wall]) + " |"

    if paper:
        lines.append(row("SteppingNet (paper, Table I)", f"{paper[0]:.2f}",
                         [f"{a:.2f} @ {m:.2f}%" for a, m in paper[1]], "—"))
    for r in runs:
        diff = paper is not None and r.method == "steppingnet"
        orig = f"{100 * r.original_accuracy:.2f}" + (
            f" ({100 * r.original_accuracy - paper[0]:+.2f})" if diff else "")
        cells = [f"{100 * a:.2f} @ {m:.2f}%" + (
            f" ({100 * a - paper[1][i][0]:+.2f})" if diff and i < len(paper[1]) else "")
            for i, (a, m) in enumerate(zip(r.accuracy, r.macs_pct))]
        lines.append(row(r.label, orig, cells, _hours(r.wall_s)))
    lines.append("")
    rivals = [r for r in runs if r.method in RIVALS]
    for r in (r for r in runs if r.method == "steppingnet"):
        gaps = []
        for i, a in enumerate(r.accuracy):
            best = max((x.accuracy[i] for x in rivals if i < len(x.accuracy)), default=None)
            gaps.append("—" if best is None else f"{100 * (a - best):+.2f}")
        if rivals:
            lines += [f"{r.label} − the better of any-width and slimmable, per subnet "
                      f"(points): {' / '.join(gaps)}.", ""]
    return lines


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def _budget_note(runs: list[Run]) -> list[str]:
    seen = {r.samples_seen for r in runs}
    if len(seen) <= 1:
        return []
    return ["**Unequal training budgets**: samples seen differ between these runs "
            f"({', '.join(f'{r.run}: {r.samples_seen:,}' for r in runs)}).", ""]
