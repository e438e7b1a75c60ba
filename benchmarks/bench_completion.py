"""Time and accuracy of every completion method at 1216x352, on the real-data protocols.

For each row: median time per frame after warm-up (for the engine rows the whole
``complete`` call: input checks, the method, confidence, clamping; for the reference rows
the bare function), its ratio to a bare ``cv2.dilate`` pass
measured in the same run, and the KITTI metrics on the 16-beam protocol built from
``../shared/data/kitti_object`` (see ``datasets/kitti_protocol.py``); then the same on a
held-out nuScenes key frame (``datasets/nuscenes_protocol.py``). A learned model is one
more :class:`Row` (its registered name, weights and device).

Last, the whole process: ``dcr complete --method classical`` against IP-Basic's demo loop
(``benchmarks/ip_basic_script.py``) on 100 frames, PNG in and out, in alternating runs.

Usage:
    python benchmarks/bench_completion.py [--repeats N] [--device auto|cpu|cuda] [--json FILE]
                                          [--whole-process-frames N] [--whole-process-runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from depth_completion_ros.datasets.kitti_depth_completion import write_frame  # noqa: E402
from depth_completion_ros.datasets.kitti_protocol import CROP_HEIGHT, CROP_WIDTH, build_protocol  # noqa: E402
from depth_completion_ros.datasets.nuscenes_protocol import build_protocol as build_nuscenes_protocol  # noqa: E402
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame  # noqa: E402
from depth_completion_ros.datasets.shared_data import find_shared_data  # noqa: E402
from depth_completion_ros.eval.baselines import nearest_fill  # noqa: E402
from depth_completion_ros.eval.metrics import DEFAULT_RANGE_BUCKETS, MetricAccumulator, default_ranges  # noqa: E402
from depth_completion_ros.geometry.camera import CameraModel  # noqa: E402
from depth_completion_ros.pipeline.classical import completion_confidence  # noqa: E402
from depth_completion_ros.pipeline.engine import CompletionEngine, describe_device, resolve_device  # noqa: E402


@dataclass(frozen=True)
class Row:
    """One benchmarked method: a registered engine method, or a plain reference function."""

    label: str
    method: str | None = None
    params: dict = field(default_factory=dict)
    weights: Path | None = None
    reference: Callable[[np.ndarray], np.ndarray] | None = None


def _dilate(sparse: np.ndarray) -> np.ndarray:
    return cv2.dilate(sparse, np.ones((5, 5), np.uint8))


ROWS = [
    Row("cv2.dilate 5x5 (time reference)", reference=_dilate),
    Row("nearest fill (baseline)", reference=nearest_fill),
    Row("ip_basic (published defaults)", "ip_basic"),
    Row("ip_basic extrapolate+gaussian", "ip_basic", {"extrapolate": True, "blur": "gaussian"}),
    Row("ip_basic_multiscale (published)", "ip_basic_multiscale"),
    Row("ip_basic_multiscale extrap+gauss", "ip_basic_multiscale", {"extrapolate": True, "blur": "gaussian"}),
    Row("classical (default)", "classical"),
    Row("classical, no smoothing", "classical", {"median_size": 0, "smooth_size": 0}),
    Row("classical + RGB-edge splits 0.3", "classical", {"split_ratio": 0.3}),
    Row("classical + RGB-edge splits 1.0", "classical", {"split_ratio": 1.0}),
    Row("learned (shipped, torch)", "learned"),
    Row("mono_aligned (shipped teacher)", "mono_aligned"),
]


def onnx_row() -> Row:
    """The shipped network exported to ONNX (a temporary file), run by onnxruntime."""
    import tempfile

    from depth_completion_ros.models.checkpoint import load_model
    from depth_completion_ros.models.inference import export_onnx
    from depth_completion_ros.pipeline.learned import SHIPPED_COMPLETION

    model, _ = load_model(SHIPPED_COMPLETION, "completion")
    path = export_onnx(model, Path(tempfile.mkdtemp()) / "completion_small.onnx")
    return Row("learned (shipped, onnxruntime)", "learned", weights=path)


def _synthetic_frames() -> list[ProtocolFrame]:
    """Timing-only stand-in when the shared data is absent: 16 rings of random depths."""
    from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame

    rng = np.random.default_rng(0)
    sparse = np.zeros((CROP_HEIGHT, CROP_WIDTH), np.float32)
    sparse[100::20, ::2] = rng.uniform(3, 80, sparse[100::20, ::2].shape)
    camera = CameraModel.from_intrinsics(721.5, 721.5, 596.5, 149.9, CROP_WIDTH, CROP_HEIGHT)
    rgb = rng.integers(0, 256, (CROP_HEIGHT, CROP_WIDTH, 3), dtype=np.uint8)
    return [ProtocolFrame(CompletionFrame("synthetic.png", rgb, sparse, camera), np.zeros_like(sparse))]


def _interleaved_ms(runs: dict[str, Callable[[], object]], repeats: int, device: str) -> dict[str, np.ndarray]:
    """Time several callables in turn, ``repeats`` rounds; returns name -> (repeats,) ms.

    Interleaving puts each round's runs under the same machine load, so per-round ratios
    hold even when other jobs come and go on a shared machine.
    """
    def synchronize() -> None:
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            synchronize()
            start = time.perf_counter()
            run()
            synchronize()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: np.array(values) for name, values in times.items()}


def _confidence_split(predictions, frames) -> tuple[float, float]:
    """Mean relative error on the more / less confident half of all scored pixels (pooled).

    A useful confidence gives a much smaller first number; chance gives two equal ones.
    """
    errors, confidences = [], []
    for (depth, confidence), item in zip(predictions, frames):
        scored = (item.ground_truth > 0) & (depth > 0)
        errors.append(np.abs(depth[scored] - item.ground_truth[scored]) / item.ground_truth[scored])
        confidences.append(confidence[scored])
    error, confidence = np.concatenate(errors), np.concatenate(confidences)
    order = np.argsort(-confidence, kind="stable")
    half = order.size // 2
    return float(np.mean(error[order[:half]])), float(np.mean(error[order[half:]]))


def bench_row(row: Row, frames: list[ProtocolFrame], repeats: int, device: str) -> dict:
    """Time one row on every frame (interleaved with the nearest fill) and score it."""
    if row.reference is not None:
        def complete(f):
            depth = row.reference(f.frame.sparse)
            return depth, completion_confidence(depth, f.frame.sparse > 0)

        def timed_runs(f):
            return {"engine": lambda: row.reference(f.frame.sparse)}  # the bare function

        used_device = "cpu"
    else:
        engine = CompletionEngine(row.method, device=device, weights=row.weights, method_params=row.params)
        engine.warm_up(frames[0].frame.camera)
        used_device = engine.device

        def complete(f):
            result = engine.complete(f.frame.rgb, f.frame.sparse, f.frame.camera)
            return result.depth, result.confidence

        def timed_runs(f):
            return {
                "engine": lambda: complete(f),
                "method": lambda: engine.implementation.complete(f.frame.rgb, f.frame.sparse, f.frame.camera),
            }

    per_frame = []
    for item in frames:
        runs = {"nearest": lambda: nearest_fill(item.frame.sparse), **timed_runs(item)}
        _interleaved_ms(runs, 2, used_device)  # warm-up
        per_frame.append(_interleaved_ms(runs, repeats, used_device))
    ms = float(np.median([np.median(t["engine"]) for t in per_frame]))
    method_ms = float(np.median([np.median(t.get("method", t["engine"])) for t in per_frame]))
    ratio = float(np.median(np.concatenate([t["engine"] / t["nearest"] for t in per_frame])))
    predictions = [complete(item) for item in frames]
    accumulator = MetricAccumulator(ranges=default_ranges())
    for (depth, _), item in zip(predictions, frames):
        accumulator.add(depth, item.ground_truth)
    return {
        "label": row.label,
        "device": used_device,
        "ms": ms,
        "method_ms": method_ms,
        "ratio_to_nearest_fill": ratio,
        "groups": {s.name: s.to_dict() for s in accumulator.summaries()},
        "rel_confident_halves": _confidence_split(predictions, frames) if frames[0].ground_truth.any() else None,
    }


def print_table(results: list[dict]) -> None:
    """One line per row: times, ratio to the nearest fill, metrics overall and by range."""
    far = [f"{lo:g}-{hi:g}m" for lo, hi in DEFAULT_RANGE_BUCKETS]
    number = lambda v, fmt: format(v, fmt) if v is not None else "-"  # noqa: E731
    print(
        f"{'method':34s} {'dev':>4} {'method':>6} {'engine':>6} {'x NN':>5} {'RMSE':>7} {'MAE':>6} {'iRMSE':>6} "
        f"{'iMAE':>5} {'d<1.25':>6} {'cover':>5} " + " ".join(f"{'RMSE ' + name:>13}" for name in far)
        + f" {'REL conf+/-':>13}"
    )
    for r in results:
        a = r["groups"]["all"]
        split = r["rel_confident_halves"]
        print(
            f"{r['label']:34s} {r['device']:>4} {r['method_ms']:6.2f} {r['ms']:6.2f} {r['ratio_to_nearest_fill']:5.2f} "
            f"{number(a['rmse_mm'], '7.0f')} {number(a['mae_mm'], '6.0f')} {number(a['irmse_1km'], '6.2f')} "
            f"{number(a['imae_1km'], '5.2f')} {number(a['delta1'], '6.4f')} {number(a['coverage'], '5.3f')} "
            + " ".join(f"{number(r['groups'][name]['rmse_mm'], '13.0f')}" for name in far)
            + (f" {split[0]:6.3f}/{split[1]:<6.3f}" if split else "")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per frame (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="device for the engine rows (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--whole-process-frames", type=int, default=100,
                        help="frames of the whole-process dcr complete vs IP-Basic timing (0 = skip; default: %(default)s)")
    parser.add_argument("--whole-process-runs", type=int, default=5, help="alternating runs of it (default: %(default)s)")
    args = parser.parse_args()

    print(f"device: {describe_device(resolve_device(args.device))}")
    kitti = find_shared_data("kitti_object", REPO_ROOT)
    nuscenes = find_shared_data("nuscenes_sample", REPO_ROOT)
    protocols = [
        (
            f"KITTI protocol: {'3 KITTI object frames' if kitti else 'SYNTHETIC rings (shared data absent), times only'}, "
            f"HDL-64E -> every 4th ring as a 16-beam input, the other rings as ground truth, {CROP_WIDTH}x{CROP_HEIGHT}. "
            "The 'classical' design choices were measured here.",
            build_protocol(kitti) if kitti else _synthetic_frames(),
            args.repeats,
        )
    ]
    if nuscenes:
        protocols.append((
            "Held-out check: one nuScenes key frame, 6 cameras 1600x900, HDL-32E -> every 2nd ring as input, "
            "the other rings as ground truth. Nothing was chosen on this data.",
            build_nuscenes_protocol(nuscenes),
            max(args.repeats // 5, 1),
        ))
    report = []
    rows = [*ROWS, onnx_row()]
    for description, frames, repeats in protocols:
        print(f"\n{description}\nmedian of {repeats} runs per frame after warm-up")
        results = [bench_row(row, frames, repeats, args.device) for row in rows]
        print_table(results)
        report.append({"protocol": description, "frames": len(frames), "results": results})
    print(
        "\nTimes: median ms per frame; 'method' = the method alone (depth + confidence), 'engine' = the whole "
        "engine call (checks, method, clamping); 'x NN' = median over rounds of engine time / nearest-fill time, timed in turn in each round. "
        "RMSE/MAE mm, iRMSE/iMAE 1/km, averaged per image over the pixels with a prediction ('cover' = share of "
        "ground-truth pixels predicted). 'REL conf+/-': mean relative error on the more / less confident half "
        "of the pixels (a useful confidence makes the first much smaller)."
    )
    if args.whole_process_frames:
        report.append(whole_process(protocols[0][1], args.whole_process_frames, args.whole_process_runs))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def whole_process(frames: list[ProtocolFrame], count: int, runs: int) -> dict:
    """Whole-process time per frame of ``dcr complete --method classical`` against IP-Basic's
    demo loop (``ip_basic_script.py``: read the LiDAR PNG, fast fill, write the PNG) on
    ``count`` frames in the KITTI layout (the protocol frames repeated), PNG in and out,
    process start included; the two alternate ``runs`` times, medians compared."""
    with tempfile.TemporaryDirectory() as folder:
        layout = Path(folder) / "input"
        for k in range(count):
            write_frame(layout, replace(frames[k % len(frames)].frame, name=f"{k:010d}.png"))
        commands = {
            "dcr complete --method classical": [sys.executable, "-m", "depth_completion_ros.cli.main", "complete",
                                                "--input", str(layout), "--output", f"{folder}/classical",
                                                "--method", "classical", "--device", "cpu"],
            "IP-Basic demo loop (fast preset)": [sys.executable, str(Path(__file__).with_name("ip_basic_script.py")),
                                                 str(layout), f"{folder}/ip_basic"],
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
                seconds[name].append(time.perf_counter() - started)
    per_frame = {name: 1e3 * float(np.median(values)) / count for name, values in seconds.items()}
    reference = per_frame["IP-Basic demo loop (fast preset)"]
    print(f"\nWhole process, {count} frames {CROP_WIDTH}x{CROP_HEIGHT} PNG in and out, process start included, "
          f"median of {runs} alternating runs:")
    for name, ms in per_frame.items():
        print(f"  {name:36s} {ms:7.1f} ms/frame   x{ms / reference:.2f}")
    return {"whole_process_ms_per_frame": per_frame, "frames": count, "runs": runs,
            "ratio_classical_vs_ip_basic": per_frame["dcr complete --method classical"] / reference}


if __name__ == "__main__":
    sys.exit(main())
