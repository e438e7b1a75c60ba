"""Simulator speed: one full KITTI-like frame per iteration.

A frame is the 1242x375 left RGB + depth + semantics, the rectified right image, an
HDL-64E sweep (~130k beams), a radar sweep and the 256x256x32 occupancy ground truth
with visibility, each at a new time (so the world's ray-casting scene is rebuilt, as
when frames are generated for training). Prints the device, the median time per
frame after warm-up, a per-stage breakdown, and the ratio to a reference measured in
the same run: the bare open3d cast of the left camera's rays (no shading) on the
same scene. (Embree builds its BVH lazily, so the "scene build" stage is the mesh
upload and the BVH build is counted in the first cast, the left camera's.)

Run: PYTHONPATH=. python benchmarks/bench_sim.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import open3d as o3d

from depth_completion_ros.sim.camera import camera_rays
from depth_completion_ros.sim.raycast import cast_rays
from depth_completion_ros.sim.simulator import Simulator


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=7, help="timed frames after 2 warm-up frames")
    args = parser.parse_args()

    sim = Simulator.create("street", "kitti", seed=1, duration=10.0)
    stages = {
        "scene build": lambda t: sim.snapshot(t),
        "left camera": lambda t: sim.camera_image(t),
        "right camera": lambda t: sim.camera_image(t, right=True),
        "lidar HDL-64E": lambda t: sim.lidar_scan(t),
        "radar": lambda t: sim.radar_scan(t),
        "occupancy GT": lambda t: sim.occupancy(t),
    }
    origins, directions = camera_rays(sim.rig.camera)
    T = sim.pose("camera", 0.0)

    per_stage: dict[str, list[float]] = {name: [] for name in stages}
    totals, references = [], []
    for i in range(args.frames + 2):
        t = 0.1 * i + 0.05
        start = time.perf_counter()
        for name, stage in stages.items():
            begin = time.perf_counter()
            stage(t)
            if i >= 2:
                per_stage[name].append(time.perf_counter() - begin)
        total = time.perf_counter() - start
        begin = time.perf_counter()
        cast_rays(sim.snapshot(t).scene, origins @ T[:3, :3].T + T[:3, 3], directions @ T[:3, :3].T)
        reference = time.perf_counter() - begin
        if i >= 2:
            totals.append(total)
            references.append(reference)

    frame = sim.frame(0.05)
    median, reference = statistics.median(totals), statistics.median(references)
    print(f"device: CPU {cpu_name()}, {os.cpu_count()} cores (open3d {o3d.__version__}, numpy {np.__version__})")
    print(f"frame: {frame.rgb.shape[1]}x{frame.rgb.shape[0]} stereo, {frame.lidar.points.shape[0]} LiDAR points "
          f"({sim.rig.lidar.name}), {frame.radar.points.shape[0]} radar returns, "
          f"{'x'.join(map(str, frame.occupancy.labels.shape))} voxels, {len(sim.world.objects)} objects")
    print(f"median over {len(totals)} frames after 2 warm-up: {median * 1000:.0f} ms per frame = "
          f"{1 / median:.2f} frames/s (target < 1000 ms)")
    for name, times in per_stage.items():
        print(f"  {name:14s} {statistics.median(times) * 1000:7.1f} ms")
    print(f"reference (bare open3d cast of the {directions.shape[0]} left-camera rays): {reference * 1000:.1f} ms; "
          f"frame / reference = {median / reference:.1f}x")


if __name__ == "__main__":
    main()
