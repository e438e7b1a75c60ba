"""Acceptance of the learned methods against the classical one, all measured in one run.

1. Synthetic, held-out: simulator frames of a seed never used in training (other worlds,
   other scene layouts), the rig's HDL-64E with every 4th ring as input (16 beams), dense
   ground truth up to 80 m, bottom-centre 1216x352 crop; scored on the whole crop, and
   again only from the top input ring's row down (where real LiDAR ground truth exists).
   Build the frames with
   ``dcr train cache --out out/cache_eval --frames 24 --seed 2 --rig-lidar``.
2. Real KITTI: the 16-beam protocol of ``datasets/kitti_protocol.py`` on
   ``../shared/data/kitti_object`` (held-out rings as ground truth).
3. Real RGB-D: the 5 Redwood PrimeSense frames of ``../shared/data/redwood_rgbd``, a
   16-ring LiDAR simulated from each depth map (``sim/lidar_from_depth.py``) as input,
   the dense depth as ground truth.
4. Speed: CPU latency at 1216x352 of the whole engine call (classical, learned with torch,
   learned with onnxruntime), interleaved in rounds, median after warm-up, and of the bare
   network (torch vs onnxruntime) with their ratio.

Usage:
    python benchmarks/bench_learned.py [--eval-cache out/cache_eval] [--repeats 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common import interleaved_ms  # noqa: E402

from depth_completion_ros.datasets.kitti_protocol import build_protocol  # noqa: E402
from depth_completion_ros.datasets.shared_data import find_shared_data  # noqa: E402
from depth_completion_ros.eval.metrics import DepthRange, MetricAccumulator  # noqa: E402
from depth_completion_ros.geometry.camera import CameraModel  # noqa: E402
from depth_completion_ros.models.checkpoint import load_model  # noqa: E402
from depth_completion_ros.models.inference import OnnxRunner, TorchRunner, export_onnx  # noqa: E402
from depth_completion_ros.training.samples import evaluation_input  # noqa: E402
from depth_completion_ros.datasets.cached_frame import CachedFrame, cache_files  # noqa: E402
from depth_completion_ros.pipeline.classical import classical_fill  # noqa: E402
from depth_completion_ros.pipeline.engine import CompletionEngine, describe_device  # noqa: E402
from depth_completion_ros.pipeline.learned import SHIPPED_COMPLETION  # noqa: E402
from depth_completion_ros.sim.lidar_from_depth import beam_pattern_for_camera, lidar_from_depth  # noqa: E402

# (label, method, weights) rows; the ONNX file is exported at start-up.
METHODS = ("classical", "learned", "mono_aligned")
SYNTHETIC_RANGE = DepthRange("0-80m", 0.0, 80.0)
REDWOOD_RINGS = 16
Frame = tuple[np.ndarray, np.ndarray, np.ndarray, CameraModel]  # rgb, sparse, ground truth, camera


def synthetic_frames(cache: Path) -> list[Frame]:
    return [evaluation_input(CachedFrame.load(path)) for path in cache_files(cache)]


def below_top_ring(frames: list[Frame]) -> list[Frame]:
    """The same frames with ground truth only from the top input ring's row down.

    Real LiDAR ground truth (KITTI's, and the protocol's held-out rings) exists only where
    the LiDAR reaches; above its top beam the dense simulator depth has no real-data
    counterpart, so this is the synthetic score comparable with the real ones.
    """
    clipped = []
    for rgb, sparse, gt, camera in frames:
        rows = np.flatnonzero((sparse > 0).any(axis=1))
        top = int(rows.min()) if rows.size else gt.shape[0]
        gt = gt.copy()
        gt[:top] = 0
        clipped.append((rgb, sparse, gt, camera))
    return clipped


def kitti_frames(root: Path) -> list[Frame]:
    return [(f.frame.rgb, f.frame.sparse, f.ground_truth, f.frame.camera) for f in build_protocol(root)]


def redwood_frames(root: Path, seed: int = 0) -> list[Frame]:
    """Redwood RGB-D frames with a 16-ring LiDAR simulated from their depth."""
    spec = json.loads((root / "camera_primesense.json").read_text())
    K = np.array(spec["intrinsic_matrix"], dtype=np.float64).reshape(3, 3).T  # stored column-major
    camera = CameraModel(width=spec["width"], height=spec["height"], K=K)
    lidar = beam_pattern_for_camera(camera, rings=REDWOOD_RINGS)
    frames = []
    for number, depth_path in enumerate(sorted((root / "depth").glob("*.png"))):
        depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
        bgr = cv2.imread(str(root / "color" / f"{depth_path.stem}.jpg"), cv2.IMREAD_COLOR)
        scan = lidar_from_depth(depth, camera, lidar, rng=np.random.default_rng([seed, number]))
        frames.append((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), scan.sparse_depth, depth, camera))
    return frames


def score(engine: CompletionEngine, frames: list[Frame], depth_range: DepthRange) -> dict:
    """Mean per-image KITTI metrics of one method on a set of frames."""
    accumulator = MetricAccumulator(ranges=[depth_range])
    for rgb, sparse, gt, camera in frames:
        accumulator.add(engine.complete(rgb, sparse, camera).depth, gt)
    return accumulator.summaries()[0].to_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-cache", type=Path, default=REPO_ROOT / "out" / "cache_eval",
                        help="held-out simulator frames (default: %(default)s)")
    parser.add_argument("--weights", type=Path, default=SHIPPED_COMPLETION, help="completion checkpoint")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--model-card", type=Path, help="write the model card JSON (shipped weights) here")
    parser.add_argument("--note", action="append", default=[], help="a note for the model card (repeatable)")
    parser.add_argument("--train-cache", type=Path, default=REPO_ROOT / "out" / "cache_train",
                        help="training cache, counted in the model card (default: %(default)s)")
    args = parser.parse_args()

    print(f"device: {describe_device('cpu')}")
    onnx_path = Path(tempfile.mkdtemp()) / "completion.onnx"
    model, _ = load_model(args.weights, "completion")
    export_onnx(model, onnx_path)
    engines = {name: CompletionEngine(name, device="cpu", weights=args.weights if name == "learned" else None)
               for name in METHODS}
    engines["learned (onnxruntime)"] = CompletionEngine("learned", device="cpu", weights=onnx_path)

    sets: list[tuple[str, list[Frame], DepthRange]] = []
    if args.eval_cache.is_dir():
        synthetic = synthetic_frames(args.eval_cache)
        sets.append((f"synthetic held-out ({args.eval_cache.name}, 16 of 64 rings, GT dense <= 80 m, whole crop)",
                     synthetic, SYNTHETIC_RANGE))
        sets.append((f"synthetic held-out ({args.eval_cache.name}, same, GT from the top input ring down)",
                     below_top_ring(synthetic), SYNTHETIC_RANGE))
    kitti = find_shared_data("kitti_object", REPO_ROOT)
    redwood = find_shared_data("redwood_rgbd", REPO_ROOT)
    if kitti:
        sets.append(("real KITTI 16-beam protocol (3 frames, held-out rings as GT)", kitti_frames(kitti),
                     DepthRange("all")))
    if redwood:
        sets.append((f"real Redwood RGB-D (5 frames, {REDWOOD_RINGS}-ring LiDAR simulated from depth, dense GT)",
                     redwood_frames(redwood), DepthRange("all")))
    report: dict = {"device": describe_device("cpu"), "accuracy": {}, "latency_ms": {}}
    for description, frames, depth_range in sets:
        print(f"\n{description}: {len(frames)} frames")
        print(f"  {'method':24s} {'RMSE mm':>9} {'MAE mm':>8} {'iRMSE':>7} {'REL':>6} {'d<1.25':>7} "
              f"{'vs classical':>12}")
        results = {name: score(engine, frames, depth_range) for name, engine in engines.items()}
        reference = results["classical"]["rmse_mm"]
        for name, r in results.items():
            print(f"  {name:24s} {r['rmse_mm']:9.0f} {r['mae_mm']:8.0f} {r['irmse_1km']:7.2f} {r['rel']:6.3f} "
                  f"{r['delta1']:7.4f} {100 * (r['rmse_mm'] / reference - 1):+11.1f}%")
        report["accuracy"][description] = results

    rng = np.random.default_rng(0)
    rgb, sparse, _, camera = kitti_frames(kitti)[0] if kitti else (
        rng.integers(0, 256, (352, 1216, 3), dtype=np.uint8),
        np.where(rng.random((352, 1216)) < 0.03, rng.uniform(3, 80, (352, 1216)), 0).astype(np.float32), None,
        CameraModel.from_intrinsics(721.5, 721.5, 596.5, 149.9, 1216, 352))
    prior = classical_fill(sparse, None)
    torch_runner, onnx_runner = TorchRunner(model, "cpu"), OnnxRunner(onnx_path)
    runs = {f"engine {name}": (lambda e=engine: e.complete(rgb, sparse, camera)) for name, engine in engines.items()
            if name != "mono_aligned"}
    runs["network torch"] = lambda: torch_runner(rgb, sparse, prior)
    runs["network onnxruntime"] = lambda: onnx_runner(rgb, sparse, prior)
    runs["classical fill alone"] = lambda: classical_fill(sparse, None)
    times = interleaved_ms(runs, args.repeats)
    print(f"\nlatency at {sparse.shape[1]}x{sparse.shape[0]} on {describe_device('cpu')}, "
          f"median of {args.repeats} interleaved rounds after 3 warm-up rounds:")
    for name, values in times.items():
        print(f"  {name:32s} {np.median(values):8.1f} ms")
        report["latency_ms"][name] = float(np.median(values))
    ratio = float(np.median(times["network onnxruntime"] / times["network torch"]))
    print(f"  onnxruntime / torch (network, per-round median ratio): {ratio:.2f}")
    report["latency_ms"]["onnxruntime_over_torch"] = ratio
    difference = np.max(np.abs(torch_runner(rgb, sparse, prior)[0] - onnx_runner(rgb, sparse, prior)[0]))
    print(f"  torch vs onnxruntime max |depth difference| on this frame: {difference * 1000:.3f} mm")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.model_card:
        card = model_card(args.weights, args.train_cache, report, args.note)
        args.model_card.write_text(json.dumps(card, indent=2) + "\n")
        print(f"model card: {args.model_card}")
    return 0


TRAINING_COMMANDS = [
    "dcr train cache --out out/cache_train --frames 600 --seed 0 "
    "--tum-rgbd ../shared/data/redwood_rgbd/other_formats --rgbd-variants 16",
    "dcr train cache --out out/cache_val --frames 16 --seed 1",
    "dcr train completion --config config/train/completion_small.yaml",
    "dcr export --format pt --weights out/train_small/stage2_sparse.pt "
    "--output depth_completion_ros/weights/completion_small.pt",
    "dcr export --format pt --weights out/train_small/teacher.pt --output depth_completion_ros/weights/teacher_small.pt",
]


def rmse_change_vs_classical(report: dict) -> dict[str, dict[str, float]]:
    """Per evaluation set: each method's RMSE change against classical, in percent."""
    changes = {}
    for description, results in report["accuracy"].items():
        reference = results["classical"]["rmse_mm"]
        changes[description] = {name: round(100 * (r["rmse_mm"] / reference - 1), 1)
                                for name, r in results.items() if name != "classical"}
    return changes


def model_card(weights: Path, train_cache: Path, report: dict, notes: list[str]) -> dict:
    """Architecture, commands, data, seed and metrics of the shipped weights."""
    from collections import Counter

    from depth_completion_ros.models.checkpoint import read_checkpoint

    payload = read_checkpoint(weights)
    teacher = read_checkpoint(weights.with_name("teacher_small.pt"))
    sources = Counter(str(np.load(p)["source"]) for p in cache_files(train_cache)) if train_cache.is_dir() else {}
    parameters = int(sum(t.numel() for t in payload["state_dict"].values() if t.is_floating_point()))
    return {
        "name": "completion_small",
        "files": {"completion": "weights/completion_small.pt", "teacher": "weights/teacher_small.pt"},
        "architecture": {
            "network": "CompletionNet: RGB (standardized per image: exposure-invariant) and depth encoders fused "
                       "by addition at every scale (stride 4..32), decoder to 1/4 resolution, heads upsampled to full "
                       "resolution; output = JARRN refine (s*D + f)*p + D*(1-p) of D = prior/m * exp(r), times the "
                       "per-image scale m (median sparse depth); the prior is the classical fill of the sparse input",
            "model_config": payload["model_config"],
            "parameters": parameters,
            "teacher": {"network": "TeacherNet (RGB only, relative inverse depth)",
                        "model_config": teacher["model_config"]},
        },
        "commands": TRAINING_COMMANDS,
        "data": {
            "training_frames": dict(sources),
            "description": "simulator frames (street/indoor, kitti rig camera) with a random LiDAR per frame "
                           "(32-128 rings, random elevation span, azimuth step, mount offset, dropout), and the "
                           "TUM RGB-D frame of ../shared/data/redwood_rgbd/other_formats with LiDAR simulated from "
                           "its depth; inputs are random ring subsets (>= 16 rings) with random extra dropout. "
                           "No KITTI, no Redwood evaluation frame was used for training.",
        },
        "seed": payload["train_config"].get("seed"),
        "train_config": payload["train_config"],
        "validation_metrics_last_epoch": payload["metrics"],
        "teacher_validation_metrics": teacher["metrics"],
        "rmse_change_vs_classical_percent": rmse_change_vs_classical(report),
        "acceptance": report,
        "notes": notes,
    }


if __name__ == "__main__":
    sys.exit(main())
