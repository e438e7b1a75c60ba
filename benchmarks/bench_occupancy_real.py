"""Stereo occupancy on real images: RADIATE ``tiny_foggy`` held-out frames (ZED 672x376, fog).

Scores, on the 15 held-out stereo pairs of :mod:`depth_completion_ros.datasets.radiate`
(the last 15; never used for training or tuning), every registered occupancy method
(``sgbm``, ``learned``, ``lidar``: the nearest single sweep voxelized) and the plain OpenCV
reference of issue 14 against the accumulated-LiDAR target, in the camera frustum, on the
ZED grid (128 x 128 x 32 @ 0.2 m in base_link, x in [0, 25.6) m):

- completion IoU / precision / recall (SemanticKITTI counting, counts summed over frames;
  a voxel is scored when a LiDAR ray observed it and its centre is in the left camera's view);
- per-frame time medians (every method once per frame, after one warm-up frame), and the device;
- pictures of one frame in ``--out``: bird's-eye views (green: both, red: predicted only,
  blue: missed, grey: not scored) and the occupied-voxels-per-height profile of the target,
  ``sgbm``, ``learned`` and the reference.

The reference is ``cv2.StereoSGBM_create`` with SGBM_3WAY, block 5, P1 = 8·3·25, P2 = 32·3·25,
uniqueness 10, the rest OpenCV's defaults, on the BGR images, with 64 disparities: the
issue's 128 for KITTI's 1242-px-wide images scaled to the ZED's 672 px (128 · 672 / 1242 =
69, the nearest multiple of 16; it reaches 0.6 m at the ZED's f·B = 40 px·m), voxelized like
``sgbm`` (``insert_depth`` of every matched pixel).

``--study`` also prints the SGBM choices one at a time (disparity range, smoothness,
speckle filter, subpixel, hit / ray subsampling, range cut) on the trainable pairs (where
the defaults were chosen) and on the held-out pairs.

Usage:
    python benchmarks/bench_occupancy_real.py [--radiate DIR] [--out DIR] [--frame K] [--study] [--json FILE]

Data: the ``marcelsheeny/radiate_sdk`` snapshot extracted outside the repository (see
``depth_completion_ros/datasets/radiate.py``); ``--radiate`` or ``$DCR_RADIATE`` points at it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from common import device_name

from depth_completion_ros.datasets.radiate import ZED_GRID, RadiateSequence, find_radiate
from depth_completion_ros.datasets.semantic_kitti import SSCMetrics
from depth_completion_ros.eval.occupancy import predicted_labels
from depth_completion_ros.eval.radiate import occupancy_target, stereo_frame
from depth_completion_ros.eval.visualize import labelled, occupancy_bev, occupancy_height_histogram, save_rgb
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.occupancy import insert_depth
from depth_completion_ros.pipeline.occupancy_methods import (
    OCCUPANCY_METHODS,
    OccupancyMethod,
    SgbmOccupancy,
    StereoFrame,
    create_occupancy_method,
)
from depth_completion_ros.stereo.disparity import Disparity
from depth_completion_ros.stereo.matching import StereoParams, compute_disparity

REFERENCE_DISPARITIES = 64  # 128 * 672 / 1242 = 69 -> 64


def opencv_reference(frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
    """The plain OpenCV SGBM of issue 14 on the BGR pair, voxelized with ``insert_depth``."""
    matcher = cv2.StereoSGBM_create(minDisparity=0, numDisparities=REFERENCE_DISPARITIES, blockSize=5,
                                    P1=8 * 3 * 25, P2=32 * 3 * 25, uniquenessRatio=10,
                                    mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    raw = matcher.compute(np.ascontiguousarray(frame.left[:, :, ::-1]), np.ascontiguousarray(frame.right[:, :, ::-1]))
    disparity = raw.astype(np.float32) / 16.0
    focal = frame.right_camera.fx
    valid = disparity > 0
    depth = Disparity(disparity, valid, focal, frame.right_camera.stereo_baseline_term / focal, 0.0,
                      REFERENCE_DISPARITIES - 1.0, 1 / 16).to_depth()
    return insert_depth(grid.geometry(), depth, frame.left_camera, frame.T_grid_camera)


def score(methods: dict[str, OccupancyMethod], frames: list[StereoFrame], targets: list, grid: VoxelGrid,
          log: Callable[[str], None] = lambda line: None) -> tuple[dict[str, dict[str, float]], dict[str, list]]:
    """``({method: iou, precision, recall, median_ms}, {method: per-frame predicted labels})``.

    Every method runs once on the first frame untimed (warm-up), then once per frame.
    """
    metrics = {name: SSCMetrics() for name in methods}
    times: dict[str, list[float]] = {name: [] for name in methods}
    predictions: dict[str, list] = {name: [] for name in methods}
    for name, method in methods.items():
        method(frames[0], grid)
    for k, (frame, target) in enumerate(zip(frames, targets)):
        for name, method in methods.items():
            start = time.perf_counter()
            result = method(frame, grid)
            times[name].append((time.perf_counter() - start) * 1e3)
            predictions[name].append(predicted_labels(result))
            metrics[name].add(predictions[name][-1], target.labels, target.invalid)
        log(f"frame {k + 1}/{len(frames)}")
    report = {}
    for name in methods:
        summary = metrics[name].summary()
        report[name] = {key: summary[key] for key in ("iou", "precision", "recall")}
        report[name]["median_ms"] = float(np.median(times[name]))
    return report, predictions


def save_pictures(out: Path, frame: StereoFrame, target, predictions: dict[str, np.ndarray], grid: VoxelGrid,
                  title: str) -> list[Path]:
    """Bird's-eye views (target and each method, one row) and the height profile of one frame."""
    out.mkdir(parents=True, exist_ok=True)
    panels = [labelled(occupancy_bev(target.labels, target.labels, target.invalid), "target")]
    panels += [labelled(occupancy_bev(labels, target.labels, target.invalid), name)
               for name, labels in predictions.items()]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    row = np.hstack([p for panel in panels for p in (panel, gap)][:-1])
    image = cv2.resize(frame.left, (row.shape[1], int(round(frame.left.shape[0] * row.shape[1] / frame.left.shape[1]))))
    bev = save_rgb(out / "occupancy_bev.png", np.vstack([labelled(image, title), row]))
    histogram = occupancy_height_histogram(out / "occupancy_height.png", {"target": target.labels, **predictions},
                                           grid.axis_centres(2), target.invalid, title=f"Occupied voxels per height, {title}")
    return [bev, histogram]


def study(frames: dict[str, list[StereoFrame]], targets: dict[str, list], grid: VoxelGrid) -> list[str]:
    """Rows of the SGBM ablation: each choice changed alone from the new and the old defaults."""
    new = SgbmOccupancy(device="cpu")
    old = SgbmOccupancy(StereoParams(num_disparities=128), stride=2, ray_stride=2, device="cpu")

    def variant(base: SgbmOccupancy, **changes) -> SgbmOccupancy:
        params = {k: v for k, v in changes.items() if hasattr(base.params, k)}
        method = {k: v for k, v in changes.items() if not hasattr(base.params, k)}
        return replace(base, params=replace(base.params, **params), **method)

    def integer(base: SgbmOccupancy) -> OccupancyMethod:
        def run(frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
            d = compute_disparity(frame.left, frame.right, frame.left_camera, frame.right_camera, base.params)
            return base.from_disparity(replace(d, disparity=np.round(d.disparity)), frame, grid)
        return run

    rows = {
        "new default (auto range = 16 px, hits stride 1, rays stride 2)": new,
        "  range 32 px": variant(new, num_disparities=32),
        "  range 64 px": variant(new, num_disparities=64),
        "  range 128 px (the old fixed value)": variant(new, num_disparities=128),
        "  P1/P2 x3 (8·3·b², 32·3·b² on 1 channel)": variant(new, p1=8 * 3 * 25, p2=32 * 3 * 25),
        "  SGBM_3WAY + P1/P2 x3": variant(new, mode="sgbm_3way", p1=8 * 3 * 25, p2=32 * 3 * 25),
        "  SGBM_3WAY": variant(new, mode="sgbm_3way"),
        "  SGBM_3WAY + colour": variant(new, mode="sgbm_3way", grayscale=False),
        "  speckle filter off": variant(new, speckle_window_size=0),
        "  pre-filter cap 15 (OpenCV default)": variant(new, pre_filter_cap=15),
        "  integer disparity (no subpixel)": integer(new),
        "  hits stride 2 (old)": variant(new, stride=2),
        "  range cut 15 m (farther depths only clear space)": variant(new, max_range=15.0),
        "old default (128 px, hits and rays stride 2)": old,
        "  old + auto range": variant(old, num_disparities=0),
        "  old + hits stride 1": variant(old, stride=1),
        "plain OpenCV reference": opencv_reference,
    }
    lines = ["| SGBM choice | trainable IoU / P / R | held-out IoU / P / R |", "|---|---|---|"]
    print("\n".join(lines))
    for name, method in rows.items():
        cells = []
        for split in ("trainable", "held-out"):
            report, _ = score({name: method}, frames[split], targets[split], grid)
            m = report[name]
            cells.append(f"{m['iou']:.3f} / {m['precision']:.3f} / {m['recall']:.3f}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radiate", type=Path, default=None,
                        help="RADIATE sequence folder or snapshot root (default: $DCR_RADIATE, /work/data/radiate)")
    parser.add_argument("--out", type=Path, default=Path("out/bench_occupancy_real"), help="pictures folder")
    parser.add_argument("--frame", type=int, default=5, help="held-out frame (0-14) for the pictures (default: 5)")
    parser.add_argument("--device", default="cpu", help="device of the methods (default: cpu)")
    parser.add_argument("--study", action="store_true", help="also print the SGBM ablation (trainable and held-out)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    folder = find_radiate() if args.radiate is None else args.radiate
    if folder is None or not folder.is_dir():
        print("RADIATE tiny_foggy not found: extract data/radiate/tiny_foggy and config/default-calib.yaml of "
              "marcelsheeny/radiate_sdk @ b1d5de55 and pass --radiate (or set DCR_RADIATE)", file=sys.stderr)
        return 2
    if (folder / "data" / "radiate" / "tiny_foggy").is_dir():
        folder = folder / "data" / "radiate" / "tiny_foggy"
    grid = ZED_GRID
    seq = RadiateSequence(folder)
    start = time.perf_counter()
    _ = seq.trajectory
    print(f"# Stereo occupancy on real RADIATE frames ({folder.name}): {len(seq.held_out)} held-out stereo pairs")
    print(f"device: {device_name()}")
    print(f"grid {grid.shape} @ {grid.resolution} m in {grid.frame_id}, x [{grid.origin[0]:g}, {grid.upper[0]:g}) m; "
          f"f {seq.rectification.left.fx:.1f} px, B {seq.rectification.baseline_m:.4f} m; "
          f"LiDAR odometry {time.perf_counter() - start:.1f} s")
    frames = [stereo_frame(seq, i, grid) for i in seq.held_out]
    frustum = seq.frustum(grid)
    targets = [occupancy_target(seq, i, grid, frustum) for i in seq.held_out]
    scored = sum(int((~t.invalid).sum()) for t in targets)
    occupied = sum(int(((t.labels > 0) & ~t.invalid).sum()) for t in targets)
    print(f"target: sweeps within -0.5/+1.0 s, deskewed; {scored} scored voxels, {occupied} occupied "
          f"({scored // len(targets)} / {occupied // len(targets)} per frame)")

    methods = {name: create_occupancy_method(name, device=args.device) for name in sorted(OCCUPANCY_METHODS)}
    methods["opencv reference"] = opencv_reference
    report, predictions = score(methods, frames, targets, grid, log=lambda line: print(line, file=sys.stderr))
    print("| method | IoU | precision | recall | median ms/frame |")
    print("|---|---|---|---|---|")
    for name, m in report.items():
        print(f"| {name} | {m['iou']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['median_ms']:.0f} |")
    print("(lidar: the nearest single sweep, one of the sweeps the target accumulates, so its precision is ~1)")

    k = min(max(args.frame, 0), len(frames) - 1)
    shown = {name: predictions[name][k] for name in ("sgbm", "learned", "opencv reference") if name in predictions}
    pair = seq.pairs[seq.held_out[k]]
    for path in save_pictures(args.out, frames[k], targets[k], shown, grid,
                              f"held-out {k} (frame {pair.frame:06d})"):
        print(f"picture: {path}")
    lines = study({"trainable": [stereo_frame(seq, i, grid) for i in seq.trainable], "held-out": frames},
                  {"trainable": [occupancy_target(seq, i, grid, frustum) for i in seq.trainable], "held-out": targets},
                  grid) if args.study else []
    if args.json is not None:
        args.json.write_text(json.dumps({"device": device_name(), "held_out": report, "study": lines}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
