"""``dcr complete``: dense depth for a folder in the KITTI depth-completion layout.

This file interface is a contract (evaluation tools outside the package call it):

* input ``DIR/image/*.png``, ``DIR/velodyne_raw/*.png`` (uint16, depth x 256, 0 = none),
  ``DIR/intrinsics/*.txt`` (3x3 K);
* output one uint16 PNG (depth x 256) per scan in ``--output``, named as in ``velodyne_raw/``.

A bad frame is reported on one line (file and fix) and skipped; the others are still
written, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


from depth_completion_ros.cli.exits import EXIT_USAGE
from depth_completion_ros.cli.frames import finish, run_frames
from depth_completion_ros.cli.paths import output_dir
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.engine import DEFAULT_METHOD, DEVICE_CHOICES, available_methods


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, metavar="DIR",
                        help="folder with image/, velodyne_raw/ and intrinsics/")
    parser.add_argument("--output", required=True, type=output_dir, metavar="DIR",
                        help="folder for the uint16 depth PNGs (created)")
    parser.add_argument("--method", default=DEFAULT_METHOD, metavar="NAME",
                        help=f"completion method: {', '.join(available_methods())} (default: %(default)s)")
    parser.add_argument("--weights", type=Path, metavar="FILE", help="weights file, for methods that use one")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="compute device (default: %(default)s)")


def _error(message: object) -> None:
    print(f"dcr complete: error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.datasets.kitti import write_depth_png
    from depth_completion_ros.datasets.kitti_depth_completion import list_frames, load_frame
    from depth_completion_ros.pipeline.engine import CompletionEngine, describe_device

    try:
        engine = CompletionEngine(method=args.method, device=args.device, weights=args.weights)
        frames, problems = list_frames(args.input)
    except BadInputError as error:
        _error(error)
        return 2
    for problem in problems:
        _error(problem)
    if not frames:
        _error(f"no frame to complete in {args.input} (expected the KITTI depth-completion layout: image/, "
               "velodyne_raw/, intrinsics/)")
        return EXIT_USAGE
    args.output.mkdir(parents=True, exist_ok=True)
    print(f"method {args.method} on {describe_device(engine.device)}: {len(frames)} frame(s) -> {args.output}")
    warmed_sizes: set[tuple[int, int]] = set()

    def complete_one(files) -> tuple[float, float]:
        frame = load_frame(files)
        warm_up_ms = 0.0
        if frame.sparse.shape not in warmed_sizes:  # warm-up is not timed
            started = time.perf_counter()
            engine.warm_up(frame.camera, runs=1)
            warmed_sizes.add(frame.sparse.shape)
            warm_up_ms = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        result = engine.complete(frame.rgb, frame.sparse, frame.camera)
        complete_ms = (time.perf_counter() - started) * 1e3
        write_depth_png(args.output / files.name, result.depth)
        return complete_ms, warm_up_ms

    run_result = run_frames(frames, complete_one, "dcr complete")
    if engine.stats.non_finite_output_pixels:
        print(f"warning: {engine.stats.non_finite_output_pixels} non-finite output pixel(s) written as 0 (invalid)")
    return finish(run_result, len(frames), len(problems), "completion", args.output, "dcr complete")
