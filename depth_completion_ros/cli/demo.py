"""``dcr demo``: the README's main job on the embedded default."""

from __future__ import annotations

import argparse

PLAN = """\
The demo runs the whole package on generated data, with no robot and no downloads:
  1. generate a short simulator sequence bag (camera, stereo, LiDAR, radar, ground truth);
  2. start the real nodes in one process with 'dcr run';
  3. replay the bag live over DDS and record the outputs;
  4. evaluate them and write a report with pictures to out/demo/;
  5. print a summary table and the report's path.
Not all of these steps exist yet; this build runs the ones that do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="output folder (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    print(PLAN)
    from depth_completion_ros.cli import info

    return info.run(args)
