"""``dcr demo``: the README's main job, end to end on generated data.

1. generate a short simulator sequence bag (camera, stereo, LiDAR, radar, ground truth);
2. start the real depth-completion node with ``dcr run``;
3. replay the bag live over DDS and record the node's outputs;
4. evaluate them and write the report to ``--out``;
5. print a summary table and the report's path.
No robot and no download is needed; it takes a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from depth_completion_ros.cli.paths import output_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=output_dir, default=Path("out/demo"), help="output folder (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=20, help="LiDAR sweeps to simulate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default: %(default)s)")
    parser.add_argument("--rig", default="kitti", help="simulator rig: kitti, nuscenes or a YAML file (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=0.5,
                        help="replay speed factor (default: %(default)s: half speed, so a 2-core CPU keeps up)")


def _step(number: int, text: str) -> None:
    print(f"\n[{number}/5] {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.cli.main import main as dcr
    from depth_completion_ros.eval.report import summary_table, write_report
    from depth_completion_ros.eval.bag_evaluation import EvalOptions
    from depth_completion_ros.ros.live_evaluation import evaluate_live

    start = time.monotonic()
    bag = args.out / "sim_bag"
    if bag.exists():
        shutil.rmtree(bag)
    args.out.mkdir(parents=True, exist_ok=True)
    _step(1, f"simulating {args.frames} sweeps of a street with the '{args.rig}' rig -> {bag}")
    code = dcr(["sim", "--scene", "street", "--frames", str(args.frames), "--seed", str(args.seed), "--rig", args.rig,
                "--out", str(bag)])
    if code:
        return code
    _step(2, "starting the depth-completion node with 'dcr run' (its log: live/node_classical.log)")
    _step(3, f"replaying the bag live over DDS at {args.rate:g}x and recording the outputs (live/outputs_classical)")
    _step(4, "scoring the node's depth against the simulator's ground truth")
    pictures = args.out / "pictures"
    pictures.mkdir(exist_ok=True)
    result = evaluate_live(bag, EvalOptions(), args.out / "live", rate=args.rate, pictures_dir=pictures)
    report = write_report(result, args.out)
    _step(5, f"done in {time.monotonic() - start:.0f} s")
    print(summary_table(result))
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"\nreport: {report}\n(open it in a browser; report.md, metrics.json and frames.csv are beside it)")
    return 1 if result.problems or not any(m.records for m in result.methods.values()) else 0
