"""``dcr``: the package's command-line tool.

Subcommands register themselves in :data:`SUBCOMMANDS` (name -> module path); each module
has ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when
their subcommand runs, so ``dcr --help`` stays fast and a broken optional dependency
breaks only the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("depth_completion_ros.cli.info", "show versions, the compute device and the environment checks"),
    "run": ("depth_completion_ros.cli.run", "start the configured nodes in one process (no ros2 launch needed)"),
    "replay": ("depth_completion_ros.cli.replay", "publish a bag into live ROS 2 topics, optionally recording outputs"),
    "eval": ("depth_completion_ros.cli.eval_bag", "evaluate depth on recorded bags (offline or live) and write a report"),
    "convert": ("depth_completion_ros.cli.convert", "convert KITTI raw / odometry (+SemanticKITTI) or nuScenes to an MCAP bag"),
    "demo": ("depth_completion_ros.cli.demo", "run the end-to-end demo on generated data (no robot, no downloads)"),
    "complete": ("depth_completion_ros.cli.complete", "dense depth for a folder in the KITTI depth-completion layout"),
    "evaluate": ("depth_completion_ros.cli.evaluate", "KITTI depth metrics of predicted depth PNGs against ground truth"),
    "sim": ("depth_completion_ros.cli.sim", "generate a simulated sensor sequence (MCAP bag or KITTI folders)"),
    "train": ("depth_completion_ros.cli.train", "build training caches; train the completion or occupancy network"),
    "occupancy": ("depth_completion_ros.cli.occupancy", "voxel occupancy (.bin) from KITTI odometry stereo or LiDAR"),
    "export": ("depth_completion_ros.cli.export", "export the learned completion network (ONNX for onnxruntime)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcr",
        description="depth_completion_ros: depth completion and stereo occupancy tools.",
        epilog="Run 'dcr COMMAND --help' for the options of one command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Every process dcr starts talks to the others with the transports large images and
    # clouds need (default Fast DDS transports lose UDP fragments; README "Large messages").
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
