"""``dcr convert kitti-raw`` throughput and peak memory against drive length.

A KITTI raw drive (4 cameras 1242x375 + HDL-64E scans, the shared KITTI object frames
repeated) is written to a temp folder for each length; each conversion runs in its own
process, so its peak RSS is its own. Printed per length: the median wall time of the
conversion, the reference (reading and decoding the same files once: cv2.imread +
np.fromfile, measured in this run), their ratio, and the peak RSS. Streaming means the
peak RSS does not grow with the drive length.

Run: .venv/bin/python benchmarks/bench_convert.py [--frames 10 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, print_header

sys.path.insert(0, str(REPO / "test" / "cli"))


def read_once(drive: Path) -> None:
    import cv2
    import numpy as np

    for png in sorted(drive.glob("image_0*/data/*.png")):
        cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    for scan in sorted((drive / "velodyne_points" / "data").glob("*.bin")):
        np.fromfile(scan, dtype="<f4")


def convert(drive: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one ``dcr convert kitti-raw`` process."""
    shutil.rmtree(out, ignore_errors=True)
    code = ("import resource, sys; from depth_completion_ros.cli.main import main; "
            f"code = main(['convert', 'kitti-raw', {str(drive)!r}, '--out', {str(out)!r}]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import test_convert

    print_header("dcr convert kitti-raw")
    print(f"{'frames':>6} {'convert s':>10} {'ms/frame':>9} {'read-only s':>12} {'ratio':>6} {'peak RSS MiB':>13} {'bag MiB':>8}")
    rows = []
    for frames in args.frames:
        with tempfile.TemporaryDirectory() as tmp:
            drive = test_convert.write_kitti_raw(Path(tmp), frames)
            read_once(drive)  # warm the page cache for both measurements
            reads = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                read_once(drive)
                reads.append(time.perf_counter() - start)
            runs = [convert(drive, Path(tmp) / "bag") for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            size = sum(p.stat().st_size for p in (Path(tmp) / "bag").rglob("*") if p.is_file()) / 2**20
            read = statistics.median(reads)
            rows.append((frames, wall, read))
            print(f"{frames:6d} {wall:10.2f} {wall / frames * 1e3:9.1f} {read:12.2f} {wall / read:6.1f} {rss:13.0f} {size:8.0f}")
    if len(rows) > 1:  # the difference between lengths removes the process start-up (imports)
        (f0, w0, r0), (f1, w1, r1) = rows[0], rows[-1]
        print(f"marginal per frame (4 images + 1 scan): convert {(w1 - w0) / (f1 - f0) * 1e3:.1f} ms, "
              f"read-only {(r1 - r0) / (f1 - f0) * 1e3:.1f} ms, ratio {(w1 - w0) / (r1 - r0):.1f}")
    print(f"peak RSS of this process (package imports + writing the drives): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
