"""``dcr convert``: data sets -> ROS 2 MCAP bags that ``dcr eval`` / ``dcr replay`` read.

Subcommands (topics and frames are documented in each converter module):

* ``kitti-raw DRIVE``: a KITTI raw ``*_sync`` drive (:mod:`~depth_completion_ros.datasets.kitti_to_bag`);
* ``kitti-odometry SEQUENCE``: a KITTI odometry sequence, with SemanticKITTI occupancy
  ground truth when ``voxels/`` is present (same module);
* ``nuscenes ROOT --scene NAME``: one nuScenes scene (:mod:`~depth_completion_ros.datasets.nuscenes_to_bag`);
* ``radiate SEQUENCE``: a RADIATE sequence (ZED stereo rectified, HDL-32E, accumulated-LiDAR
  occupancy targets in the camera frustum; :func:`~depth_completion_ros.eval.radiate.plan_radiate`).

Messages are read and written one at a time, so any size of drive converts in little
memory. Bad input stops with one line naming the file and the fix, and exit code 2;
nothing is left at ``--out`` then.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED
from depth_completion_ros.errors import BadInputError


KITTI_TOPICS = """topics: /camera/{left,right}/{image_rect,camera_info} (colour cameras 2, 3),
  /camera/gray/{left,right}/... (cameras 0, 1), /lidar/points (x y z intensity ring),
  /tf_static (velodyne -> each camera's rectified optical frame"""

EXAMPLES = """examples:
  dcr convert kitti-raw 2011_09_26/2011_09_26_drive_0001_sync --out drive_0001
  dcr convert kitti-odometry dataset/sequences/00 --out seq00
  dcr convert nuscenes /data/nuscenes --scene scene-0061 --out scene-0061
  dcr convert radiate radiate/data/radiate/tiny_foggy --split held-out --out foggy_held_out
  dcr eval foggy_held_out --out report --gt-depth-topic none --gt-occupancy-topic /occupancy/ground_truth \
      --config config/stereo_occupancy_radiate.yaml --occupancy-methods sgbm,learned
  dcr eval drive_0001 --out report --gt-depth-topic none --holdout-every 4

Bad input stops with one line naming the file and the fix (exit code 2); nothing is left at --out."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    kinds = parser.add_subparsers(dest="kind", metavar="DATASET", required=True)
    raw = kinds.add_parser(
        "kitti-raw", help="a KITTI raw drive: cameras, CameraInfo, Velodyne (with ring), static TF",
        description="Convert a KITTI raw drive (DATE/DATE_drive_NNNN_sync; the calib_*.txt files in DATE/). "
                    "Stamps come from each sensor's timestamps.txt; oxts/ is not used.",
        epilog=KITTI_TOPICS + ", base_link (IMU) -> velodyne)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    raw.add_argument("input", type=Path, metavar="DRIVE", help="the drive folder, e.g. 2011_09_26/2011_09_26_drive_0001_sync")
    odometry = kinds.add_parser(
        "kitti-odometry", help="a KITTI odometry sequence, with SemanticKITTI voxels as occupancy ground truth",
        description="Convert a KITTI odometry sequence (sequences/NN with image_*, velodyne, calib.txt, times.txt, "
                    "optionally SemanticKITTI voxels/).",
        epilog=KITTI_TOPICS + "),\n  /occupancy/ground_truth (SemanticKITTI .label + .invalid, "
               "the simulator's layout)", formatter_class=argparse.RawDescriptionHelpFormatter)
    odometry.add_argument("input", type=Path, metavar="SEQUENCE", help="the sequence folder, e.g. dataset/sequences/00")
    nuscenes = kinds.add_parser(
        "nuscenes", help="one nuScenes scene: 6 cameras, LIDAR_TOP, 5 radars, TF",
        description="Convert one nuScenes scene (ROOT holds v1.0-*/ tables, samples/ and sweeps/).",
        epilog="topics: /CAM_*/{image_rect,camera_info}, /LIDAR_TOP (x y z intensity ring), /RADAR_* (every PCD "
               "field), /tf_static (base_link -> sensors), /tf (map -> base_link)")
    nuscenes.add_argument("input", type=Path, metavar="ROOT", help="the nuScenes root folder")
    nuscenes.add_argument("--scene", required=True, help="scene name, e.g. scene-0061")
    nuscenes.add_argument("--version", default=None,
                          help="table folder, e.g. v1.0-mini (default: the only v1.0-* folder in ROOT)")
    nuscenes.add_argument("--keyframes-only", action="store_true",
                          help="only the key frames (samples/, 2 Hz); without it the sweeps/ are converted too")
    radiate = kinds.add_parser(
        "radiate", help="a RADIATE sequence: rectified ZED stereo, HDL-32E, occupancy targets",
        description="Convert a RADIATE sequence folder (data/radiate/<sequence> of the radiate_sdk, with "
                    "config/default-calib.yaml above it): the stereo pairs rectified, the stamped LiDAR sweeps, "
                    "and per pair the accumulated-LiDAR occupancy target (0.2 m grid, 25.6 m ahead, camera "
                    "frustum) at the pair's stamp. The last 15 pairs are the held-out validation frames.",
        epilog="topics: /camera/{left,right}/{image_rect,camera_info} (rectified, rgb8), /lidar/points (x y z "
               "intensity ring), /occupancy/ground_truth (base_link; observed free voxels listed too),\n"
               "  /tf_static (base_link -> velodyne, zed_*_optical_frame), /tf (odom -> base_link, LiDAR odometry)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    radiate.add_argument("input", type=Path, metavar="SEQUENCE", help="the sequence folder, e.g. .../tiny_foggy")
    radiate.add_argument("--calib", type=Path, default=None,
                         help="default-calib.yaml (default: beside the folder or in a config/ folder above it)")
    radiate.add_argument("--split", choices=("all", "held-out", "trainable"), default="all",
                         help="which stereo pairs (default: %(default)s; held-out = the last 15)")
    for sub in (raw, odometry, radiate):
        sub.add_argument("--max-frames", type=int, default=None, metavar="N",
                         help="convert only the first N frames of each sensor (radiate: N pairs) (default: all)")
    for sub in (raw, odometry, nuscenes, radiate):
        sub.add_argument("--out", type=Path, required=True, help="bag directory to create (must not exist)")


def _plan(args: argparse.Namespace):
    if args.kind == "kitti-raw":
        from depth_completion_ros.datasets.kitti_to_bag import plan_kitti_raw

        return plan_kitti_raw(args.input, args.max_frames)
    if args.kind == "kitti-odometry":
        from depth_completion_ros.datasets.kitti_to_bag import plan_kitti_odometry

        return plan_kitti_odometry(args.input, args.max_frames)
    if args.kind == "radiate":
        from depth_completion_ros.eval.radiate import plan_radiate

        return plan_radiate(args.input, args.calib, args.split, args.max_frames)
    from depth_completion_ros.datasets.nuscenes_to_bag import plan_nuscenes

    return plan_nuscenes(args.input, args.scene, args.version, args.keyframes_only)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from depth_completion_ros.datasets.bag_writer import write_plan

    if args.out.exists():
        print(f"dcr convert: {args.out}: already exists; remove it or choose another --out", file=sys.stderr)
        return 2
    try:
        plan = _plan(args)
        with tqdm(total=len(plan.readings), desc=f"dcr convert {args.kind}", unit="reading") as bar:
            counts = write_plan(plan, args.out, bar.update)
    except BadInputError as error:
        print(f"dcr convert: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dcr convert: interrupted; {args.out} keeps what was written, marked partial in its metadata.yaml",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    for topic, count in sorted(counts.items()):
        print(f"{count:8d}  {topic}")
    print(f"wrote {args.out}")
    return 0
