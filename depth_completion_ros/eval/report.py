"""Write an evaluation report: metrics.json, frames.csv, report.md and a self-contained
report.html (pictures embedded), from an :class:`EvaluationResult`."""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import statistics
from pathlib import Path

import numpy as np

from depth_completion_ros.eval.metrics import GroupSummary, format_table
from depth_completion_ros.eval.results import EvaluationResult
from depth_completion_ros.eval.visualize import error_vs_range_plot

EXPECTED_NODE_DROPS = ("unused",)  # node counters that are normal operation, not lost sweeps


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def summary_rows(result: EvaluationResult) -> list[dict]:
    """One row per method: overall metrics, coverage, timing and frame count."""
    rows = []
    for name, method in result.methods.items():
        overall: GroupSummary | None = method.accumulator.summaries()[0] if result.has_ground_truth else None
        timing = result.timing(name)
        rows.append({
            "method": name,
            "frames": len(method.records),
            "rmse_mm": None if overall is None else overall.values["rmse_mm"],
            "mae_mm": None if overall is None else overall.values["mae_mm"],
            "irmse_1km": None if overall is None else overall.values["irmse_1km"],
            "imae_1km": None if overall is None else overall.values["imae_1km"],
            "delta1": None if overall is None else overall.values["delta1"],
            "output_coverage": float(np.mean([r.output_coverage for r in method.records])) if method.records else None,
            **timing,
        })
    return rows


def summary_table(result: EvaluationResult) -> str:
    """Fixed-width comparison table printed at the end of ``dcr eval`` and the demo."""
    header = f"{'method':<22}{'frames':>7}{'RMSE mm':>10}{'MAE mm':>9}{'iRMSE':>8}{'d<1.25':>8}{'cover':>7}" \
             f"{'infer ms':>10}{'latency ms':>11}{'p95':>7}"
    lines = [header]
    for row in summary_rows(result):
        lines.append(
            f"{row['method']:<22}{row['frames']:>7}{_fmt(row['rmse_mm']):>10}{_fmt(row['mae_mm']):>9}"
            f"{_fmt(row['irmse_1km'], 2):>8}{_fmt(row['delta1'], 4):>8}{_fmt(row['output_coverage'], 3):>7}"
            f"{_fmt(row['inference_ms_median']):>10}{_fmt(row['latency_ms_median']):>11}{_fmt(row['latency_ms_p95']):>7}"
        )
    for name, metrics in result.occupancy.items():
        summary = metrics.summary()
        times = result.occupancy_ms[name]
        lines.append(f"occupancy {name:<12}{len(times):>7} frames  IoU {summary['iou']:.3f}  precision "
                     f"{summary['precision']:.3f}  recall {summary['recall']:.3f}  mIoU {_fmt(summary['miou'], 3)}  "
                     f"median {statistics.median(times):.0f} ms")
    lines.append(f"Sweeps: {result.sweeps}; drops: {_counts(result.drops)}")
    lines += [node_drops_line(method, counts) for method, counts in sorted(result.node_drops.items())]
    return "\n".join(lines)


def node_drops_line(method: str, counts: dict[str, int]) -> str:
    """Why the live node did not answer: its own drop counters by reason, the expected
    ones (``unused`` partner messages) apart."""
    lost = {k: v for k, v in counts.items() if k not in EXPECTED_NODE_DROPS}
    expected = {k: v for k, v in counts.items() if k in EXPECTED_NODE_DROPS}
    line = f"node drops ({method}, from its diagnostics): {_counts(lost)}"
    return line + (f"; expected: {_counts(expected)}" if expected else "")


def _counts(counts: dict[str, int]) -> str:
    """``reason count, ...`` sorted by reason, or ``none``."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def write_report(result: EvaluationResult, out: str | Path) -> Path:
    """Write every report file into ``out``; returns the path of report.html."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if result.has_ground_truth:
        series = {name: (np.concatenate(m.plot_gt), np.concatenate(m.plot_error))
                  for name, m in result.methods.items() if m.plot_gt}
        if series:
            result.pictures["error_vs_range"] = str(error_vs_range_plot(out / "error_vs_range.png", series))
    metrics = {
        "mode": result.mode,
        "bags": result.bags,
        "sweeps": result.sweeps,
        "drops": result.drops,
        "node_drops": result.node_drops,
        "problems": result.problems,
        "summary": summary_rows(result),
        "by_range": {name: [s.to_dict() for s in m.accumulator.summaries()] for name, m in result.methods.items()}
        if result.has_ground_truth else {},
        "occupancy": {name: {**m.summary(),
                             "frames": len(result.occupancy_ms[name]),
                             "median_ms": statistics.median(result.occupancy_ms[name])}
                      for name, m in result.occupancy.items()},
        "pictures": {k: Path(v).name for k, v in result.pictures.items()},
    }
    (out / "metrics.json").write_text(json.dumps(_nan_to_null(metrics), indent=2, allow_nan=False,
                                                 default=_json_default))
    _write_csv(result, out / "frames.csv")
    markdown = _markdown(result)
    (out / "report.md").write_text(markdown)
    report = out / "report.html"
    report.write_text(_html(result, markdown))
    return report


def _nan_to_null(value):
    """``value`` with every NaN float (a metric with nothing to average: a method that gave no
    depth where there was ground truth) as None, JSON's null."""
    if isinstance(value, dict):
        return {key: _nan_to_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_null(item) for item in value]
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value)}")


def _write_csv(result: EvaluationResult, path: Path) -> None:
    columns = ["bag", "stamp_ns", "method", "output_coverage", "inference_ms", "latency_ms",
               "rmse_mm", "mae_mm", "irmse_1km", "imae_1km", "rel", "delta1", "gt_pixels", "scored_pixels"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for method in result.methods.values():
            for r in method.records:
                overall = r.metrics.get("all", {})
                writer.writerow({"bag": r.bag, "stamp_ns": r.stamp_ns, "method": r.method,
                                 "output_coverage": round(r.output_coverage, 4), "inference_ms": r.inference_ms,
                                 "latency_ms": r.latency_ms,
                                 **{k: overall.get(k) for k in columns[6:]}})


def _markdown(result: EvaluationResult) -> str:
    lines = [f"# Depth evaluation ({result.mode})", "", f"Bags: {', '.join(result.bags)}", "",
             "## Summary", "", "```", summary_table(result), "```", ""]
    if result.has_ground_truth:
        for name, method in result.methods.items():
            lines += [f"## {name}: metrics by range", "", "```", format_table(method.accumulator.summaries()), "```", ""]
    else:
        lines += ["No ground truth in these recordings: only timing, drops and coverage are reported.", ""]
    lines += ["## Per frame", "", "```", _frames_table(result), "```", ""]
    if result.problems:
        lines += ["## Problems", ""] + [f"- {p}" for p in result.problems] + [""]
    for name, path in result.pictures.items():
        lines += [f"## {name.replace('_', ' ')}", "", f"![{name}]({Path(path).name})", ""]
    lines += ["Per-frame values: `frames.csv`; everything above as JSON: `metrics.json`.", ""]
    return "\n".join(lines)


def _frames_table(result: EvaluationResult, limit: int = 200) -> str:
    """One line per output frame (the first ``limit``; all of them are in frames.csv)."""
    lines = [f"{'bag':<24}{'stamp (s)':>20} {'method':<20}{'RMSE mm':>9}{'MAE mm':>8}{'cover':>7}{'infer ms':>9}"
             f"{'latency ms':>11}"]
    records = [r for m in result.methods.values() for r in m.records]
    for r in sorted(records, key=lambda r: (r.bag, r.stamp_ns, r.method))[:limit]:
        overall = r.metrics.get("all", {})
        lines.append(f"{Path(r.bag).name[:23]:<24}{r.stamp_ns / 1e9:>20.3f} {r.method:<20}"
                     f"{_fmt(overall.get('rmse_mm')):>9}{_fmt(overall.get('mae_mm')):>8}{r.output_coverage:>7.3f}"
                     f"{_fmt(r.inference_ms):>9}{_fmt(r.latency_ms):>11}")
    if len(records) > limit:
        lines.append(f"... {len(records) - limit} more in frames.csv")
    return "\n".join(lines)


def _html(result: EvaluationResult, markdown: str) -> str:
    """A single HTML file: the markdown text as preformatted blocks, pictures inline."""
    body = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
        elif in_code:
            body.append(html.escape(line))
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            name = line[2:line.index("]")]
            data = base64.b64encode(Path(result.pictures[name]).read_bytes()).decode()
            body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}" style="max-width:100%">')
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>depth_completion_ros report</title>"
            "<style>body{font-family:sans-serif;max-width:1300px;margin:auto}pre{background:#f4f4f4;padding:8px}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
