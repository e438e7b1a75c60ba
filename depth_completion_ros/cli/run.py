"""``dcr run``: start a configured pipeline of nodes in one process.

For machines without ``ros2 launch`` (and for the demo): the nodes named in the
parameters file are created in one process, the way a component container runs them: one
executor thread takes messages in for all of them, and each node processes its sets in its
own worker thread, so one node's inference never blocks another node's message intake.
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from depth_completion_ros.resources import share_dir

# node name (the key in the parameters file) -> "module:Class"
NODES = {
    "depth_completion": "depth_completion_ros.ros.depth_completion_node:DepthCompletionNode",
    "stereo_occupancy": "depth_completion_ros.ros.stereo_occupancy_node:StereoOccupancyNode",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="ROS 2 parameters file; its top-level keys name the nodes to start "
                             f"(known: {', '.join(NODES)}; default: the package's config/depth_completion.yaml)")
    parser.add_argument("--namespace", default="", help="namespace for every node (default: none)")
    parser.add_argument("--remap", action="append", default=[], metavar="FROM:=TO",
                        help="topic remapping, repeatable (e.g. image:=/camera/image_rect)")
    parser.add_argument("--use-sim-time", action="store_true", help="follow /clock (bag replay)")


def node_names(config: Path) -> list[str]:
    """The known node names that the parameters file configures, in file order."""
    from depth_completion_ros.config_files import load_yaml
    from depth_completion_ros.errors import BadInputError

    try:
        document = load_yaml(config, "ROS 2 parameters file")
    except BadInputError as error:
        raise SystemExit(f"dcr run: {error}") from None
    names = [key.strip("/") for key in document if isinstance(document[key], dict)]
    unknown = [n for n in names if n not in NODES and n != "**"]
    if unknown:
        raise SystemExit(f"dcr run: {config} configures unknown node(s) {unknown}; known: {', '.join(NODES)}")
    started = [n for n in names if n in NODES]
    if not started:
        raise SystemExit(f"dcr run: {config} configures none of the known nodes ({', '.join(NODES)})")
    return started


def run(args: argparse.Namespace) -> int:
    if args.config is None:
        args.config = share_dir() / "config" / "depth_completion.yaml"
    names = node_names(args.config)

    from depth_completion_ros.ros.synchronized_node import spin_nodes

    ros_args = ["--ros-args", "--params-file", str(args.config)]
    for remap in args.remap:
        ros_args += ["-r", remap]
    if args.namespace:
        ros_args += ["-r", f"__ns:={args.namespace}"]
    if args.use_sim_time:
        ros_args += ["-p", "use_sim_time:=true"]
    classes = []
    for name in names:
        module_name, class_name = NODES[name].split(":")
        classes.append(getattr(importlib.import_module(module_name), class_name))

    def announce(nodes) -> None:
        nodes[0].get_logger().info(f"dcr run: {', '.join(names)} from {args.config} "
                                   f"(FASTDDS_BUILTIN_TRANSPORTS={os.environ['FASTDDS_BUILTIN_TRANSPORTS']})")

    spin_nodes(classes, ros_args, on_start=announce)
    return 0
