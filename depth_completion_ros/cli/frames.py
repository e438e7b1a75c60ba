"""The per-frame loop of the batch commands (``dcr complete``, ``dcr occupancy``).

Each frame is processed and written on its own: a bad frame is one line and the others go
on; Ctrl-C or SIGTERM lets the frame in hand finish, then stops; the end is one timing
line and the exit code of :mod:`~depth_completion_ros.cli.exits`.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from depth_completion_ros.cli.allocator import keep_freed_memory
from depth_completion_ros.cli.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from depth_completion_ros.cli.timing import frame_timing_summary
from depth_completion_ros.errors import BadInputError

Frame = TypeVar("Frame")


@dataclass
class FrameRun:
    """What a batch command did: frames written, frames with a problem, times (ms) of the
    written frames (the method's, and the whole frame's with reading and writing)."""

    written: int = 0
    failures: int = 0
    method_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    interrupted: bool = False


def run_frames(frames: Sequence[Frame], process: Callable[[Frame], tuple[float, float]], prog: str) -> FrameRun:
    """Process every frame with a progress bar.

    Args:
        process: reads, computes and writes one frame; returns (the method's time, time not
            to count such as a warm-up), ms. BadInputError and OSError are counted and
            printed as one line, and the next frame goes on.
        prog: the command's name for messages (``dcr complete``).
    """
    from tqdm import tqdm

    keep_freed_memory()
    run, stop = FrameRun(), threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for frame in tqdm(frames, unit="frame", file=sys.stderr):
            if stop.is_set():
                break
            start = time.perf_counter()
            try:
                method_ms, untimed_ms = process(frame)
            except (BadInputError, OSError) as error:
                run.failures += 1
                tqdm.write(f"{prog}: error: {error}", file=sys.stderr)
                continue
            run.written += 1
            run.method_ms.append(method_ms)
            run.total_ms.append((time.perf_counter() - start) * 1e3 - untimed_ms)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    run.interrupted = stop.is_set()
    return run


def finish(run: FrameRun, total: int, problems: int, label: str, out: Path, prog: str) -> int:
    """Print the timing line and the outcome; the exit code (``problems``: found before the loop)."""
    if run.method_ms:
        print(frame_timing_summary(label, run.method_ms, run.total_ms))
    failures = run.failures + problems
    if run.interrupted:
        print(f"{prog}: interrupted after {run.written} of {total} frame(s); those are in {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not run.written:
        print(f"{prog}: error: no frame was written: all {failures} had problems", file=sys.stderr)
        return EXIT_USAGE
    if failures:
        print(f"{prog}: error: {failures} problem(s); the frames without them were written", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
