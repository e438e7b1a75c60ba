"""``dcr eval``: how good is the depth on my recordings, and where does it fail?

Evaluates one or more bags offline (the pipeline in-process) or live (the real node over
DDS), against a ground-truth depth topic, held-out LiDAR rings, or nothing (timing,
drops and coverage only), and writes a report with pictures to ``--out``.
Several bags can be evaluated in parallel with Ray (``--workers N``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED, is_interruption
from depth_completion_ros.cli.paths import output_dir
from depth_completion_ros.errors import BadInputError


def _at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (checked before any work starts)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", nargs="+", type=Path, metavar="BAG", help="bag directories or files (MCAP, sqlite3, ROS 1)")
    parser.add_argument("--out", type=output_dir, required=True, help="report folder (created)")
    parser.add_argument("--mode", choices=("offline", "live"), default="offline",
                        help="offline: pipeline in-process; live: replay through the real node over DDS (default: %(default)s)")
    parser.add_argument("--config", type=Path, help="the node's ROS 2 parameters file (slop, extrinsics, ...)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods to compare (default: the config's method, else classical)")
    parser.add_argument("--image-topic", default="/camera/left/image_rect")
    parser.add_argument("--camera-info-topic", default="/camera/left/camera_info")
    parser.add_argument("--lidar-topic", default="/lidar/points",
                        help="LiDAR topic; 'none' = a radar-camera rig without LiDAR (one frame per image, "
                             "with --radar-topic and a radar method; as use_lidar: false in the config)")
    parser.add_argument("--radar-topic", default=None, help="optional radar topic (attached when in time)")
    parser.add_argument("--gt-depth-topic", default="/camera/left/depth/ground_truth",
                        help="ground-truth depth image topic; 'none' to use --holdout-every or no ground truth")
    parser.add_argument("--gt-occupancy-topic", default=None,
                        help="ground-truth occupancy cloud (e.g. /occupancy/ground_truth): also score stereo occupancy "
                             "(offline mode; grid from the config's stereo_occupancy grid.* parameters)")
    parser.add_argument("--right-image-topic", default="/camera/right/image_rect")
    parser.add_argument("--right-camera-info-topic", default="/camera/right/camera_info")
    parser.add_argument("--occupancy-methods", default="sgbm", help="comma-separated (default: %(default)s)")
    parser.add_argument("--holdout-every", type=_at_least(2), default=None, metavar="K",
                        help="without a GT topic: keep LiDAR rings with ring %% K == 0 as input, score on the rest")
    parser.add_argument("--max-frames", type=_at_least(1), default=None, help="stop after N synchronized frames per bag")
    parser.add_argument("--rate", type=_positive_float, default=1.0, help="live replay speed factor (default: %(default)s)")
    parser.add_argument("--workers", type=_at_least(1), default=1, help="evaluate bags in parallel with Ray (offline mode)")
    parser.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: a local one)")


def options_from_args(args: argparse.Namespace):
    from depth_completion_ros.eval.bag_evaluation import EvalOptions, load_grid, load_node_params

    params = load_node_params(args.config)
    methods = tuple(m for m in (args.methods or str(params.get("method", "classical"))).split(",") if m)
    gt = None if str(args.gt_depth_topic).lower() == "none" else args.gt_depth_topic
    lidar = None if str(args.lidar_topic).lower() == "none" or not params.get("use_lidar", True) else args.lidar_topic
    if lidar is None and args.radar_topic is None:
        raise BadInputError("--lidar-topic", "a rig without LiDAR needs --radar-topic (no points would give depth)")
    if lidar is None and args.holdout_every:
        raise BadInputError("--holdout-every", "holds LiDAR rings out as ground truth: a rig without LiDAR has none")
    return EvalOptions(image=args.image_topic, camera_info=args.camera_info_topic, lidar=lidar,
                       radar=args.radar_topic, gt_depth=gt, holdout_every=args.holdout_every, methods=methods,
                       node_params=params, max_frames=args.max_frames, gt_occupancy=args.gt_occupancy_topic,
                       right_image=args.right_image_topic, right_camera_info=args.right_camera_info_topic,
                       occupancy_methods=tuple(m for m in args.occupancy_methods.split(",") if m),
                       grid=load_grid(args.config), stereo_params=load_node_params(args.config, "stereo_occupancy"))


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.eval.bag_evaluation import evaluate_offline
    from depth_completion_ros.eval.report import summary_table, write_report
    from depth_completion_ros.eval.results import EvaluationResult

    try:
        options = options_from_args(args)
    except (OSError, BadInputError, ValueError) as error:
        print(f"dcr eval: {error}", file=sys.stderr)
        return 2
    pictures = args.out / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    result = EvaluationResult(args.mode)
    if args.workers > 1 and len(args.bags) > 1 and args.mode == "offline":
        from depth_completion_ros.cli.ray_pool import map_bags

        for part in map_bags(args.bags, options, pictures, args.workers, args.ray_address):
            result.merge(part)
    else:
        done = 0
        try:
            for bag in _progress(args.bags):
                try:
                    if args.mode == "live":  # the only path that needs ROS
                        from depth_completion_ros.ros.live_evaluation import evaluate_live

                        result.merge(evaluate_live(bag, options, args.out / "live", args.rate, pictures))
                    else:
                        result.merge(evaluate_offline(bag, options, pictures))
                except Exception as error:  # one broken recording must not lose the others' report
                    result.add_problem(f"{bag}: evaluation failed: {error!r}")
                if result.interrupted:  # offline evaluation stopped part-way and returned what it scored
                    raise KeyboardInterrupt
                done += 1
        except BaseException as error:
            if not is_interruption(error):
                raise
            # Ctrl-C: the bags finished so far (and the scored part of the one in hand) still get their report
            extent = f"interrupted after {done} of {len(args.bags)} bag(s)"
            if result.interrupted:
                extent += f" and {result.interrupted}"
            result.add_problem(f"{extent}: the report covers those only")
            write_report(result, args.out)
            print(f"dcr eval: {extent}; partial report in {args.out}", file=sys.stderr)
            return EXIT_INTERRUPTED
    report = write_report(result, args.out)
    print(summary_table(result))
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"report: {report}")
    if not any(m.records for m in result.methods.values()) and not result.occupancy:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(result.drops.items())) or "none"
        why = "the problems above say why" if result.problems else \
            "check --lidar-topic, --image-topic and --camera-info-topic against the bag's topics"
        print(f"dcr eval: nothing was scored ({result.sweeps} sweep(s) in {len(args.bags)} bag(s); drops: {drops}): "
              f"{why}", file=sys.stderr)
        return 2
    return 1 if result.problems else 0


def _progress(bags):
    from tqdm import tqdm

    return tqdm(bags, desc="dcr eval", unit="bag", disable=len(bags) < 2)
