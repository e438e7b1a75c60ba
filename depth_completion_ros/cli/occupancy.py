"""``dcr occupancy``: voxel occupancy for a sequence in the KITTI odometry layout.

This file interface is a contract (evaluation tools outside the package call it):

* input ``--left DIR`` (``image_2``) and ``--right DIR`` (``image_3``) rectified PNGs, a
  ``--calib`` odometry ``calib.txt`` (P2, P3 and Tr = rectified camera 0 <- Velodyne), and
  for ``--method lidar`` the scans ``--velodyne DIR/*.bin``;
* output one SemanticKITTI bit-packed ``.bin`` per frame in ``--out`` (256 x 256 x 32
  voxels of 0.2 m in the LiDAR frame, 1 = occupied), named by the left image's id.

A bad frame is reported on one line and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from depth_completion_ros.cli.frames import finish, run_frames
from depth_completion_ros.cli.paths import output_dir
from depth_completion_ros.errors import BadInputError

# the occupancy registry's methods, spelled out: reading the registry here would import torch
# whenever any dcr command builds its parser (a test keeps the two equal)
METHODS = ("sgbm", "learned", "occdepth", "lidar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--left", required=True, type=Path, metavar="DIR", help="left images (image_2)")
    parser.add_argument("--right", required=True, type=Path, metavar="DIR", help="right images (image_3)")
    parser.add_argument("--calib", required=True, type=Path, metavar="FILE", help="odometry calib.txt (P2, P3, Tr)")
    parser.add_argument("--out", required=True, type=output_dir, metavar="DIR", help="folder for the .bin files (created)")
    parser.add_argument("--method", default="sgbm", choices=METHODS, help="occupancy method (default: %(default)s)")
    parser.add_argument("--velodyne", type=Path, metavar="DIR", help="LiDAR scans (*.bin), for --method lidar")
    parser.add_argument("--weights", type=Path, metavar="FILE", help="weights for --method learned "
                        "(default: the shipped occupancy_geometry.pt) or occdepth (occdepth_small.pt)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="compute device (default: %(default)s)")


def _error(message: object) -> None:
    print(f"dcr occupancy: error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.datasets.kitti import read_velodyne_bin
    from depth_completion_ros.datasets.kitti_depth_completion import read_rgb
    from depth_completion_ros.datasets.kitti_odometry import list_frames
    from depth_completion_ros.datasets.semantic_kitti import write_bits
    from depth_completion_ros.geometry.kitti_calib import load_odometry_calib
    from depth_completion_ros.geometry.transforms import invert_transform
    from depth_completion_ros.geometry.voxels import OCCUPIED, VoxelGrid
    from depth_completion_ros.pipeline.engine import describe_device, resolve_device
    from depth_completion_ros.pipeline.occupancy_methods import StereoFrame, create_occupancy_method

    try:
        if args.method == "lidar" and args.velodyne is None:
            raise BadInputError("--velodyne", "is required by --method lidar")
        calibration = load_odometry_calib(args.calib)
        frames, problems = list_frames(args.left, args.right, args.velodyne if args.method == "lidar" else None)
        options = {"device": args.device}
        if args.method in ("learned", "occdepth") and args.weights is not None:
            options["weights"] = args.weights
        method = create_occupancy_method(args.method, **options)
    except BadInputError as error:
        _error(error)
        return 2
    for problem in problems:
        _error(problem)
    grid = VoxelGrid()  # SemanticKITTI geometry, LiDAR frame
    T_velo_cam0 = invert_transform(calibration.T_cam0_velo)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"method {args.method} on {describe_device(resolve_device(args.device))}: {len(frames)} frame(s) "
          f"-> {args.out}")

    def occupancy_one(files) -> tuple[float, float]:
        left, right = read_rgb(files.left), read_rgb(files.right)
        height, width = left.shape[:2]
        frame = StereoFrame(
            left=left, right=right,
            left_camera=calibration.camera(2, width, height), right_camera=calibration.camera(3, width, height),
            T_grid_camera=T_velo_cam0,
            lidar_points=read_velodyne_bin(files.velodyne) if files.velodyne is not None else None,
        )
        started = time.perf_counter()
        occupancy = method(frame, grid)
        method_ms = (time.perf_counter() - started) * 1e3
        write_bits(args.out / f"{files.frame_id}.bin", occupancy.state == OCCUPIED)
        return method_ms, 0.0

    return finish(run_frames(frames, occupancy_one, "dcr occupancy"), len(frames), len(problems), args.method,
                  args.out, "dcr occupancy")
