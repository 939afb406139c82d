"""What ``testbed calibrate`` writes for people: the platform file (YAML with a header
comment) and, in the report folder, ``report.md`` and ``predicted_vs_measured.png``,
from the result :mod:`.run` builds (also written as ``calibration.json``).
"""

from __future__ import annotations

from pathlib import Path

LEAVES_OUT = """\
What the model leaves out: it prices a graph by its operator and input/output counts,
MACs as the kernels execute them (dense MACs plus the channel padding of convolutions
that run in ONNX Runtime's blocked kernels), bytes moved and the patches its convolutions
expand (im2col), so it cannot see how else an operator is implemented (kernels that are
faster for some shapes, e.g. matrix products with few output channels, cache reuse
between stages, operator fusion);
contention from other processes is only in the measured variability (samples taken on
this host as loaded at the time); the memory term uses tensor sizes, not cache misses;
and one thread on one core is modelled, not multi-threaded or batched execution.
Transferring it to another platform (`scale`, `scale_to_peak`) keeps this host's
proportions (per-call share, compute against memory and im2col, variability), which that
platform need not share."""


def write_platform(result: dict, out: Path, samples_name: str) -> None:
    m, host = result["model"], result["host"]
    gmacs = m["gmacs"] or 1e6  # a compute term that never binds: effectively infinite
    lines = [
        "# Calibrated latency model of one core of this host (cost_model: latency).",
        f"# host: {host['hostname']} ({host['cpu']}, {host['cpu_count']} cores), core "
        f"{host['core']}, 1 thread, ONNX Runtime {host['onnxruntime']}",
        f"# date: {result['date']}; load average before: {host['loadavg_before']}",
        f"# command: {result['command']}",
        f"# fit: median error {result['errors']['stage']['median']:.1%} over stages "
        f"(worst {result['errors']['stage']['worst']:.1%}); see the calibration report",
        "# step ms at budget 1 = launch_ms + (nodes * node_us + tensors * io_us) / 1000",
        "#     + max(macs / (gmacs * 1e6), bytes / (gbps * 1e6))",
        "#     (padded: true: macs as the kernels execute them, blocked convolutions'",
        f"#      channels in whole blocks of `block` = {m['block']}, of 8 (AVX2)",
        "#      or 16 (AVX-512) the one that fits best; false: dense macs)",
        "#     + im2col_bytes / (expand_gbps * 1e6)",
        "#     [+ job_start on a job's first graph, by the idle gap before the job",
        "#      (later_start on each later graph of an incremental job):",
        "#      stage 1 after that gap minus stage 1 again right after, median over bundles]",
        f"# Use it as `platform: {{file: platforms/{out.name}}}` with `cost_model: latency`;",
        "# peak_gmacs = gmacs, so budget 1.0 is this whole core.",
        f"peak_gmacs: {_num(gmacs)}",
        "monitor_ms: 1.0",
        "latency:",
        f"  gmacs: {_num(gmacs)}",
        f"  launch_ms: {_num(m['launch_ms'])}",
        f"  node_us: {_num(m['node_us'])}",
        f"  io_us: {_num(m['io_us'])}",
        f"  padded: {'true' if m['padded'] else 'false'}",
        f"  block: {m['block']}",
    ]
    if m["gbps"]:
        lines.append(f"  gbps: {_num(m['gbps'])}")
    else:
        lines.append("  # gbps omitted: the fit found no graph memory-bound")
    if m["expand_gbps"]:
        lines.append(f"  expand_gbps: {_num(m['expand_gbps'])}")
    if m["job_start"]:
        lines.append("  job_start:   # idle gap before a job (ms) -> its first graph's extra µs")
        lines += [f"    - {{gap_ms: {_num(p['gap_ms'])}, us: {_num(p['us'])}}}"
                  for p in m["job_start"]]
    if m.get("later_start"):
        lines.append("  later_start:   # the same gap -> each later graph's extra µs "
                     "(incremental jobs)")
        lines += [f"    - {{gap_ms: {_num(p['gap_ms'])}, us: {_num(p['us'])}}}"
                  for p in m["later_start"]]
    lines.append(f"  variability: {{dist: empirical, file: {samples_name}}}")
    out.write_text("\n".join(lines) + "\n")


def _num(x: float) -> str:
    """Six significant digits that YAML reads back as a number (no bare ``1e+06``)."""
    text = f"{x:.6g}"
    return text if "e" not in text else f"{float(text):.12f}".rstrip("0").rstrip(".")


def write_report(result: dict, folder: Path) -> None:
    _plot(result, folder / "predicted_vs_measured.png")
    (folder / "report.md").write_text(_markdown(result))


def _markdown(r: dict) -> str:
    m, s, host = r["model"], r["simple_model"], r["host"]
    out = [f"# Latency calibration: {host['hostname']} core {host['core']}", "",
           f"`{r['command']}` on {r['date']}: {host['cpu']}, ONNX Runtime "
           f"{host['onnxruntime']}, one thread pinned to core {host['core']}, "
           f"{r['warmup']} warm-up rounds then {r['repeats']} timed rounds, all graphs "
           f"interleaved, every sample kept. Load average before / after: "
           f"{host['loadavg_before']} / {host['loadavg_after']}.", "",
           "## Fitted model", "",
           "step ms = launch_ms + (operators × node_us + input/output tensors × io_us) / 1000 "
           "+ max(kernel MACs / (gmacs·1e6), "
           "bytes / (gbps·1e6)) + im2col bytes / (expand_gbps·1e6) (kernel MACs: dense "
           "MACs with the channels of convolutions that run in ONNX Runtime's blocked "
           "NCHWc kernels rounded up to blocks of 16, as those kernels compute them; "
           "the simple model charges dense MACs), fitted by "
           "non-negative least squares on relative error "
           "(reweighted towards least absolute error) over every stage and monolithic "
           "subnet graph; a chained subnet is predicted as the sum of its stages.", "",
           "| model | launch_ms | node_us | io_us | gmacs | gbps | expand_gbps | stage median "
           "err | stage worst | chained median | chained worst | monolithic median |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|",
           _model_row("shipped", m, r["errors"]),
           _model_row("launch + max(compute, memory) only", s, r["simple_errors"]), "",
           _held_out_line(r.get("held_out")), "",
           _block_line(r.get("blocks"), m["block"]), "",
           _steadiness_line(r["host"]), "",
           _job_start_line(r["job_start"]), "",
           _later_start_line(r.get("later_start")), "",
           "## Predicted vs measured", "", "![predicted vs measured](predicted_vs_measured.png)",
           "", "| bundle | graph | k | nodes | MACs | kernel MACs | bytes | im2col bytes "
           "| measured median ms | p95 ms | max ms | predicted ms | error |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["stages"] + r["subnets"]:
        out.append(f"| {row['bundle']} | {row['kind']} | {row['index']} | {row['nodes']} | "
                   f"{row['macs']:,} | {row['kernel_macs']:,} | {row['bytes']:,} | "
                   f"{row['expand_bytes']:,} | "
                   f"{row['measured_ms']:.4f} | "
                   f"{row['p95_ms']:.4f} | {row['max_ms']:.3f} | {row['predicted_ms']:.4f} | "
                   f"{row['error']:+.1%} |")
    out += ["", "## What it leaves out", "", LEAVES_OUT, ""]
    return "\n".join(out)


def _steadiness_line(host: dict) -> str:
    from ..steadiness import describe
    vector = host.get("vector") or "unknown"
    if not host.get("probe"):
        return f"Vector instructions: {vector}. Core steadiness: not probed (`--probe-s 0`)."
    return (f"Vector instructions: {vector}. Core steadiness around the measurement (a fixed "
            "loop of Python arithmetic on the same core, `--probe-s`), "
            + describe(host["probe"]) + ". A core slower for the whole minute shows only "
            "in the loop's time against another run's: the fitted rates are this minute's.")


def _block_line(blocks: list[dict] | None, chosen: int) -> str:
    if not blocks:
        return f"Channel block of the blocked convolution kernels: {chosen} (not fitted)."
    each = ", ".join(f"{b['block']}: {b['median_error']:.1%}" for b in blocks)
    return (f"Channel block of the blocked convolution kernels (`block`, the vector width: "
            f"8 floats with AVX2, 16 with AVX-512): **{chosen}**, the one whose fit explains "
            f"the fitted graphs best (median error by block: {each}).")


def _later_start_line(points: list[dict] | None) -> str:
    if not points:
        return "(No later graphs of paced jobs measured: no incremental bundle.)"
    rows = "; ".join(
        f"after {p['gap_ms']:g} ms idle {p['us']:+.1f} µs per graph (per bundle "
        f"{min(p['bundles'].values()):+.1f} to {max(p['bundles'].values()):+.1f})"
        for p in points)
    return ("Later graphs of the same paced jobs (stages 2..k of the incremental bundles, "
            "each after the one before it), minus the same stages run again right after, median "
            f"over a bundle's stages, then over bundles: {rows}. The platform file's "
            "`later_start`: the simulator adds it, at the gap the processor idled, to every "
            "later graph of an incremental job.")


def _job_start_line(points: list[dict]) -> str:
    if not points:
        return "(No job start measured.)"
    rows = "; ".join(
        f"after {p['gap_ms']:g} ms idle {p['us']:.1f} µs (per bundle "
        f"{min(v['us'] for v in p['bundles'].values()):+.1f} to "
        f"{max(v['us'] for v in p['bundles'].values()):+.1f})" for p in points)
    return ("Job start (`job_start`, added to a job's first graph by the idle gap before "
            "it): stage 1 as the first step of jobs after an idle gap, the core spinning "
            f"in between, minus stage 1 run again right after in the same job (so the host's "
            f"speed in that minute cancels), median over bundles: {rows}.")


def _held_out_line(held: dict | None) -> str:
    if not held:
        return "(One bundle only: no held-out check.)"
    return (f"Held out (each bundle's stages predicted by a fit on the other bundles only): "
            f"median error {held['median']:.1%}, worst {held['worst']:.1%} over "
            f"{held['n']} stages.")


def _model_row(label: str, m: dict, errors: dict) -> str:
    def pct(kind, key):
        e = errors.get(kind)
        return f"{e[key]:.1%}" if e else "–"
    gbps, gmacs, expand = (f"{m[k]:.3g}" if m[k] else "none"
                           for k in ("gbps", "gmacs", "expand_gbps"))
    return (f"| {label} | {m['launch_ms']:.4f} | {m['node_us']:.3f} | {m['io_us']:.3f} | "
            f"{gmacs} | {gbps} | "
            f"{expand} | "
            f"{pct('stage', 'median')} | {pct('stage', 'worst')} | {pct('chained', 'median')} "
            f"| {pct('chained', 'worst')} | {pct('monolithic', 'median')} |")


def _plot(r: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 5))
    rows = r["stages"] + r["subnets"]
    for kind, marker in (("stage", "o"), ("monolithic", "s"), ("chained", "^")):
        pts = [(x["measured_ms"], x["predicted_ms"]) for x in rows if x["kind"] == kind]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=kind, alpha=0.75)
    values = [v for x in rows for v in (x["measured_ms"], x["predicted_ms"])]
    lo, hi = min(values) * 0.8, max(values) * 1.25
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="predicted = measured")
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey",
                    alpha=0.2, label="±10%")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel="measured median latency (ms)", ylabel="predicted latency (ms)",
           title=f"latency model, core {r['host']['core']}")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(NullFormatter())
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
