"""Shared benchmark helpers: the device name and median timing after warm-up."""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def device_name() -> str:
    """The GPU name when torch sees CUDA, else the CPU model and core count."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"cpu: {model} ({os.cpu_count()} cores)"


def median_ms(fn: Callable[[], object], repeats: int = 30, warmup: int = 3, sync: Callable[[], None] | None = None) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls.

    Args:
        sync: called before each clock read (``torch.cuda.synchronize`` on a GPU).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            sync()
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


SETTLE_S = 0.05  # pause before each timed run (not timed)


def interleaved_ms(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict[str, np.ndarray]:
    """Run the callables in turn ``repeats`` rounds (after ``warmup`` rounds); name -> ms per run.

    Each run starts after a short pause: onnxruntime's worker threads keep spinning for a
    while after a run and, on 2 cores, took the CPU from whatever ran next (a torch network
    timed right after onnxruntime took 75 ms instead of 39 ms).
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_index in range(warmup + repeats):
        for name, run in runs.items():
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            run()
            if round_index >= warmup:
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: np.array(values) for name, values in times.items()}


def shared_data() -> Path | None:
    """``../shared/data`` beside the repo, None when absent."""
    path = REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def print_header(title: str) -> None:
    print(f"# {title}")
    print(f"device: {device_name()}  python {platform.python_version()}")
