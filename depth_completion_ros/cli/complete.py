"""``dcr complete``: dense depth for a folder in the KITTI depth-completion layout.

This file interface is a contract (evaluation tools outside the package call it):

* input ``DIR/image/*.png``, ``DIR/velodyne_raw/*.png`` (uint16, depth x 256, 0 = none),
  ``DIR/intrinsics/*.txt`` (3x3 K);
* output one uint16 PNG (depth x 256) per scan in ``--output``, named as in ``velodyne_raw/``;
  with ``--confidence DIR`` also its confidence (uint16 PNG, confidence x 65535).

The image is decoded only for methods that use it (registry ``needs_rgb``). Frames are read
ahead in two threads and written in a third while the method runs (cv2 releases the GIL),
so on a 2-core machine a frame costs about the method's time.

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
    parser.add_argument("--confidence", type=output_dir, metavar="DIR",
                        help="also write each frame's confidence here: uint16 PNG, confidence x 65535 (0 = no depth)")


def _error(message: object) -> None:
    print(f"dcr complete: error: {message}", file=sys.stderr)


READ_AHEAD = 4  # frames decoded ahead of the one being completed (PNG decoding releases the GIL)


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from depth_completion_ros.datasets.kitti import write_depth_png
    from depth_completion_ros.datasets.kitti_depth_completion import list_frames, load_frame
    from depth_completion_ros.pipeline.engine import CompletionEngine, describe_device, method_spec

    try:
        spec = method_spec(args.method)
        # a confidence nobody writes is not computed; the image is decoded only for methods that use it
        skip_confidence = args.confidence is None and spec.confidence_optional
        engine = CompletionEngine(method=args.method, device=args.device, weights=args.weights,
                                  method_params={"confidence": False} if skip_confidence else {})
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
    for folder in (args.output, args.confidence):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    print(f"method {args.method} on {describe_device(engine.device)}: {len(frames)} frame(s) -> {args.output}")
    with_rgb = spec.needs_rgb
    warmed_sizes: set[tuple[int, int]] = set()
    reader, writer = ThreadPoolExecutor(2), ThreadPoolExecutor(1)
    loads = {}  # frame index -> future of its load_frame
    writes = []  # (output file, future of its write)

    def complete_one(item) -> tuple[float, float]:
        index, files = item
        for ahead in range(index, min(index + READ_AHEAD + 1, len(frames))):
            if ahead not in loads:
                loads[ahead] = reader.submit(load_frame, frames[ahead], with_rgb)
        frame = loads.pop(index).result()  # the frame's BadInputError / OSError is raised here
        warm_up_ms = 0.0
        if frame.sparse.shape not in warmed_sizes:  # warm-up is not timed
            started = time.perf_counter()
            engine.warm_up(frame.camera, runs=1)
            warmed_sizes.add(frame.sparse.shape)
            warm_up_ms = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        result = engine.complete(frame.rgb, frame.sparse, frame.camera)
        complete_ms = (time.perf_counter() - started) * 1e3
        writes.append((files.name, writer.submit(write_depth_png, args.output / files.name, result.depth)))
        if args.confidence is not None:
            writes.append((files.name, writer.submit(write_confidence_png, args.confidence / files.name,
                                                     result.confidence)))
        return complete_ms, warm_up_ms

    try:
        run_result = run_frames(list(enumerate(frames)), complete_one, "dcr complete")
    finally:
        reader.shutdown(cancel_futures=True)
        writer.shutdown(wait=True)  # every frame counted as written is on disk before the summary
    write_errors = [(name, write.exception()) for name, write in writes if write.exception() is not None]
    for _, error in write_errors:
        _error(error)
    failed_frames = len({name for name, _ in write_errors})  # written in the count, not on disk
    run_result.written -= failed_frames
    run_result.failures += failed_frames
    if engine.stats.non_finite_output_pixels:
        print(f"warning: {engine.stats.non_finite_output_pixels} non-finite output pixel(s) written as 0 (invalid)")
    return finish(run_result, len(frames), len(problems), "completion", args.output, "dcr complete")


def write_confidence_png(path: Path, confidence) -> None:
    """(H, W) confidence in [0, 1] as a uint16 PNG (x 65535)."""
    import cv2
    import numpy as np

    from depth_completion_ros.datasets.kitti import PNG_WRITE_OPTIONS

    if not cv2.imwrite(str(path), np.round(np.clip(confidence, 0.0, 1.0) * 65535.0).astype(np.uint16),
                       PNG_WRITE_OPTIONS):
        raise OSError(f"{path}: could not write the PNG (does the folder exist and is it writable?)")
