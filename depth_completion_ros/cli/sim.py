"""``dcr sim``: generate a simulated sequence as a ROS 2 MCAP bag or a KITTI folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED

DESCRIPTION = """\
Generate a procedural street or indoor sequence and record every sensor of a rig:
left/right rectified RGB + CameraInfo, ground-truth depth (32FC1) and semantics, LiDAR
and radar PointCloud2, ground-truth voxel occupancy, /tf_static extrinsics and /tf ego
poses, each sensor at its own rate with timestamp jitter. The rig (frames, extrinsics,
intrinsics, rates, grid) is also written to sim_rig.yaml inside the output folder.
The same --seed gives bit-identical messages."""

EPILOG = """\
examples:
  dcr sim --scene street --frames 50 --seed 1 --rig kitti --out out/sim_street
  dcr sim --scene indoor --frames 20 --rig config/rigs/nuscenes.yaml --out out/room
  dcr sim --frames 100 --format kitti --out out/kitti_sim
See depth_completion_ros/sim/recording.py for the topic list and point cloud layouts."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--scene", choices=("street", "indoor"), default="street",
                        help="procedural world kind (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=20,
                        help="number of camera frames; the sequence lasts frames / camera rate seconds, "
                             "LiDAR and radar run at their own rates (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="world and noise seed (default: %(default)s)")
    parser.add_argument("--rig", default="kitti",
                        help="built-in rig 'kitti' or 'nuscenes', or a rig YAML file (default: %(default)s)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder: the bag directory (must not exist) or the KITTI layout root")
    parser.add_argument("--format", choices=("mcap", "kitti"), default="mcap",
                        help="mcap: ROS 2 bag with MCAP storage; kitti: KITTI depth-completion folders "
                             "image/, velodyne_raw/, groundtruth/, intrinsics/ (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from depth_completion_ros.errors import BadInputError
    from depth_completion_ros.sim.recording import write_bag, write_kitti
    from depth_completion_ros.sim.simulator import Simulator

    if args.frames <= 0:
        print("dcr sim: --frames must be positive", file=sys.stderr)
        return 2
    if args.format == "mcap" and args.out.exists():
        print(f"dcr sim: {args.out} already exists; a bag needs a new folder (remove it or choose another --out)",
              file=sys.stderr)
        return 2
    try:
        simulator = Simulator.create(scene=args.scene, rig=args.rig, seed=args.seed, duration=1.0)
    except BadInputError as error:
        print(f"dcr sim: bad rig: {error}", file=sys.stderr)
        return 2
    duration = args.frames / simulator.rig.timing["camera"].rate_hz
    simulator = Simulator.create(scene=args.scene, rig=simulator.rig, seed=args.seed, duration=duration)
    if args.format == "kitti":
        with tqdm(total=args.frames, unit="frame", desc="dcr sim (kitti)") as bar:
            written = write_kitti(simulator, args.out, args.frames, progress=bar.update)
        print(f"wrote {written} frames to {args.out} (image/, velodyne_raw/, groundtruth/, intrinsics/, sim_rig.yaml)")
        return 0
    total = sum(len(t) for t in simulator.sensor_stamps(duration).values())
    try:
        with tqdm(total=total, unit="reading", desc="dcr sim (mcap)") as bar:
            counts = write_bag(simulator, args.out, duration, progress=bar.update)
    except KeyboardInterrupt:
        print(f"dcr sim: interrupted; {args.out} keeps what was written, marked partial in its metadata.yaml",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"wrote {args.out} ({duration:.2f} s of {args.scene}, rig {simulator.rig.name}, seed {args.seed}):")
    for topic, count in counts.items():
        print(f"  {topic:38s} {count:5d} messages")
    return 0
