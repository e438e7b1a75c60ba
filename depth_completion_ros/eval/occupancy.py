"""Occupancy methods scored on held-out simulator frames (SemanticKITTI SSC metrics).

``python -m depth_completion_ros.eval.occupancy --frames 24 --seed 303`` scores ``sgbm``,
``learned`` and the ``lidar`` reference on the same frames, on the full SemanticKITTI
grid (0.2 m) and on the network's reduced grid (0.4 m), and prints a table.

Also writes simulator frames in the KITTI odometry layout (:func:`write_odometry_sequence`),
for ``dcr occupancy`` and outside tools.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.datasets.kitti_odometry import write_calib
from depth_completion_ros.datasets.semantic_kitti import SSCMetrics, write_bits, write_labels
from depth_completion_ros.geometry.transforms import invert_transform
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid, downsample_labels
from depth_completion_ros.models.occupancy_data import learning_ids
from depth_completion_ros.pipeline.occupancy_methods import OccupancyMethod, StereoFrame, create_occupancy_method
from depth_completion_ros.sim.dataset import SimDataset
from depth_completion_ros.sim.simulator import SimulatedFrame


def stereo_frame(frame: SimulatedFrame) -> StereoFrame:
    """A simulated frame as a :class:`StereoFrame` on the LiDAR-frame grid."""
    return StereoFrame(left=frame.rgb, right=frame.right_rgb, left_camera=frame.camera,
                       right_camera=frame.right_camera, T_grid_camera=invert_transform(frame.T_camera_lidar),
                       lidar_points=frame.lidar_points)


def predicted_labels(grid: VoxelGrid) -> np.ndarray:
    """(nx, ny, nz) class ids of a method's grid for scoring: its labels where occupied
    (1 where it has none), 0 elsewhere."""
    occupied = grid.state == OCCUPIED
    labels = grid.labels if grid.labels is not None else np.ones(grid.shape, np.uint16)
    return np.where(occupied, labels, 0)


def evaluate(methods: dict[str, OccupancyMethod], frames: SimDataset, grid_factors: tuple[int, ...] = (1, 2),
             log=print) -> dict[str, dict[str, dict[str, float]]]:
    """``{grid name: {method: SSC summary + ms}}`` over all frames (counts accumulated; mIoU
    NaN for methods without classes)."""
    metrics = {(f, name): SSCMetrics() for f in grid_factors for name in methods}
    times: dict[tuple[int, str], list[float]] = {key: [] for key in metrics}
    semantic: dict[str, bool] = {}
    for index in range(len(frames)):
        frame = frames.frame(index)
        full = frame.occupancy.grid
        truth_full = learning_ids(frame.occupancy.labels), frame.occupancy.invalid
        for factor in grid_factors:
            grid = full.downsampled(factor) if factor > 1 else full
            truth, invalid = downsample_labels(*truth_full, factor) if factor > 1 else truth_full
            for name, method in methods.items():
                start = time.perf_counter()
                result = method(stereo_frame(frame), grid)
                times[factor, name].append((time.perf_counter() - start) * 1e3)
                semantic[name] = result.labels is not None
                metrics[factor, name].add(predicted_labels(result), truth, invalid)
        log(f"frame {index + 1}/{len(frames)}: " + ", ".join(
            f"{name}@{factor} IoU {metrics[factor, name].summary()['iou']:.3f}" for factor, name in metrics))
    report: dict[str, dict[str, dict[str, float]]] = {}
    for (factor, name), accumulated in metrics.items():
        grid = frames.rig.occupancy_grid
        key = f"{grid.shape[0] // factor}x{grid.shape[1] // factor}x{grid.shape[2] // factor}@{grid.resolution * factor:g}m"
        summary = accumulated.summary()
        if not semantic[name]:
            summary["miou"] = summary["miou_all"] = float("nan")  # a method without classes has no semantic score
        report.setdefault(key, {})[name] = {**summary, "median_ms": float(np.median(times[factor, name]))}
    return report


def write_odometry_sequence(frames: list[SimulatedFrame], out: str | Path) -> Path:
    """Write frames as a KITTI odometry sequence plus SemanticKITTI ground truth.

    Layout: ``image_2/``, ``image_3/`` (PNG), ``velodyne/`` (float32 x, y, z, intensity
    ``.bin``), ``calib.txt`` (P2/P3 from the rig, Tr = left camera <- LiDAR) and
    ``voxels/{id}.label`` (learning ids) / ``.invalid``. Frame ids are ``000000``, ... .
    """
    out = Path(out)
    for folder in ("image_2", "image_3", "velodyne", "voxels"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    first = frames[0]
    write_calib(out / "calib.txt", first.camera.P, first.right_camera.P, first.T_camera_lidar)
    for index, frame in enumerate(frames):
        name = f"{index:06d}"
        for folder, rgb in (("image_2", frame.rgb), ("image_3", frame.right_rgb)):
            if not cv2.imwrite(str(out / folder / f"{name}.png"), rgb[:, :, ::-1]):
                raise OSError(f"could not write {out / folder / name}.png")
        frame.lidar_points[:, :4].astype("<f4").tofile(str(out / "velodyne" / f"{name}.bin"))
        write_labels(out / "voxels" / f"{name}.label", learning_ids(frame.occupancy.labels))
        write_bits(out / "voxels" / f"{name}.invalid", frame.occupancy.invalid)
    return out


def format_report(report: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table of :func:`evaluate`'s report."""
    lines = ["| grid | method | IoU | precision | recall | mIoU (present classes) | mIoU (all 19) | median ms/frame |",
             "|---|---|---|---|---|---|---|---|"]
    for grid, methods in report.items():
        for name, m in methods.items():
            miou, miou_all = ("n/a" if np.isnan(m[k]) else f"{m[k]:.3f}" for k in ("miou", "miou_all"))
            lines.append(f"| {grid} | {name} | {m['iou']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | "
                         f"{miou} | {miou_all} | {m['median_ms']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="held-out frames (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=303, help="SimDataset seed, unused in training (default: 303)")
    parser.add_argument("--weights", type=Path, help="learned model weights (default: the shipped ones)")
    parser.add_argument("--methods", default="sgbm,learned,lidar", help="comma-separated (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--native-grid", action="store_true",
                        help="also run the occdepth network natively on each grid (the GPU default; on the full "
                             "grid ~7 s a frame on a CPU) beside the CPU default (trained grid, nearest upsampling)")
    args = parser.parse_args(argv)
    methods = {}
    for name in args.methods.split(","):
        options = {"device": "cpu"}
        if name in ("learned", "occdepth") and args.weights is not None:
            options["weights"] = args.weights
        methods[name] = create_occupancy_method(name, **options)
        if name == "occdepth" and args.native_grid:
            methods["occdepth (native grid)"] = create_occupancy_method(name, **options, native_grid=True)
    frames = SimDataset(args.frames, "street", "kitti", args.seed, outputs=("stereo", "lidar", "occupancy"))
    report = evaluate(methods, frames, log=lambda line: print(line, file=sys.stderr))
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def ground_truth_from_cloud(cloud: np.ndarray, grid: VoxelGrid) -> tuple[np.ndarray, np.ndarray]:
    """Voxel ground truth from an occupancy cloud (the simulator's and converters' layout:
    voxel centres with ``label`` raw SemanticKITTI ids and ``state``: 2 observed occupied,
    1 observed free, 0 never observed; :func:`~depth_completion_ros.datasets.bag_writer.occupancy_cloud`).

    Returns:
        ``(labels, invalid)``: (nx, ny, nz) learning ids (0 = empty) and the bool mask of
        voxels not to score. Listed voxels with state 0 are invalid; listed FREE voxels are
        empty and valid. Voxels the cloud does not list count as empty and valid when it
        lists no FREE voxel (it does not say which empty voxels were seen), and as invalid
        when it does (it lists every observed voxel, e.g. a target scored in a camera frustum).
    """
    points = np.column_stack([cloud["x"], cloud["y"], cloud["z"]]).astype(np.float64)
    index, inside = grid.voxel_index(points)
    names = cloud.dtype.names or ()
    state = cloud["state"] if "state" in names else np.full(len(cloud), OCCUPIED, np.uint8)
    lists_free = bool(np.any(state == FREE))
    index, state = index[inside], state[inside]
    labels = np.zeros(grid.shape, np.uint8)
    invalid = np.full(grid.shape, lists_free, bool)
    raw = cloud["label"][inside] if "label" in names else np.full(index.shape[0], 1)
    learned = learning_ids(np.asarray(raw)) if "label" in names else raw.astype(np.uint8)
    occupied = state != FREE
    i, j, k = index.T
    labels[i[occupied], j[occupied], k[occupied]] = np.maximum(learned[occupied], 1)  # even with an unmapped class
    invalid[i, j, k] = state == UNKNOWN
    return labels, invalid
