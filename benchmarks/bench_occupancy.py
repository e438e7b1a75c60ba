"""Free-space ray insertion of one real KITTI scan at 0.2 m, against octomap.

Inserts ``../shared/data/kitti_object/velodyne/000000.bin`` (~115k points, HDL-64E) into
the SemanticKITTI grid (256 x 256 x 32 @ 0.2 m, LiDAR frame, sensor at the origin) with
``pipeline.occupancy.insert_points`` (exact traversal), and into
an ``octomap.OcTree(0.2)`` with ``insertPointCloud`` (octomap-python 1.10.0.0, OpenMP) in
the same run, with the same number of threads for both (``--threads``):

- octomap on the full scan (what a user of octomap would insert), and on the points
  whose rays meet the grid (the same work as ours: the grid covers the front half only);
- medians after warm-up, interleaved, and the ratio octomap / ours;
- on the CPU our traversal is the compiled voxel walk; the tensor traversal that a GPU
  runs is timed too (on the same device as ours);
- agreement of the occupied / free / unknown classification of every grid voxel
  (octomap's leaves, expanded to 0.2 m voxels, against ours).

Usage:
    python benchmarks/bench_occupancy.py [--repeats N] [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from common import device_name, shared_data

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.pipeline.occupancy import _clip_to_box, _trace_crossings, insert_points


def octomap_states(tree, grid: VoxelGrid) -> np.ndarray:
    """(nx, ny, nz) UNKNOWN / FREE / OCCUPIED of the grid's voxels in an octree of the same resolution."""
    state = np.full(grid.shape, UNKNOWN, np.uint8)
    lower = np.asarray(grid.origin)
    for leaf in tree.begin_leafs():
        half = leaf.getSize() / 2
        centre = np.asarray(leaf.getCoordinate())
        start = np.floor((centre - half - lower) / grid.resolution + 0.5).astype(int)
        stop = start + int(round(leaf.getSize() / grid.resolution))
        lo, hi = np.clip(start, 0, grid.shape), np.clip(stop, 0, grid.shape)
        if np.all(hi > lo):
            state[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = OCCUPIED if tree.isNodeOccupied(leaf) else FREE
    return state


def rays_meeting_grid(points: np.ndarray, grid: VoxelGrid) -> np.ndarray:
    """The points whose segment from the origin meets the grid box (slab test)."""
    lower, upper = np.asarray(grid.origin), grid.upper
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = lower / points, upper / points
    low = np.where(points == 0, np.where((lower <= 0) & (0 <= upper), -np.inf, np.inf), np.minimum(t0, t1))
    high = np.where(points == 0, np.where((lower <= 0) & (0 <= upper), np.inf, -np.inf), np.maximum(t0, t1))
    return points[np.maximum(low.max(1), 0) < np.minimum(high.min(1), 1)]


def tensor_traversal(grid: VoxelGrid, points: np.ndarray, device: str) -> np.ndarray:
    """(nx, ny, nz) UNKNOWN / FREE / OCCUPIED from the GPU's tensor traversal, run on ``device``."""
    import torch

    scale = 1.0 / grid.resolution
    origin = torch.as_tensor(-np.asarray(grid.origin) * scale, dtype=torch.float32, device=device)
    ends = torch.as_tensor((points - grid.origin) * scale, dtype=torch.float32, device=device)
    start, _, delta, first, last = _clip_to_box(origin, ends, torch.tensor(grid.shape, device=device))
    free = _trace_crossings(start, delta, first, last, grid.shape).cpu().numpy()
    state = np.where(free, np.uint8(FREE), np.uint8(UNKNOWN))
    index, inside = grid.voxel_index(points)
    state[tuple(index[inside].T)] = OCCUPIED
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads of octomap (OpenMP), of our CPU walk (numba) and of torch (default: all cores)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read when octomap's OpenMP runtime starts
    import numba
    import octomap
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    data = shared_data()
    if data is None or not (data / "kitti_object").is_dir():
        print("skipped: ../shared/data/kitti_object is absent")
        return 0
    points = read_velodyne_bin(data / "kitti_object" / "velodyne" / "000000.bin")[:, :3].astype(np.float64)
    grid = VoxelGrid()
    relevant = rays_meeting_grid(points, grid)
    origin = np.zeros(3)
    print(f"device: {device_name()}; threads: octomap (OpenMP) {os.environ['OMP_NUM_THREADS']}, "
          f"numba {numba.get_num_threads()}, torch {torch.get_num_threads()}")
    print(f"scan: {len(points)} points, {len(relevant)} with rays meeting the grid {grid.shape} @ {grid.resolution} m")

    def octomap_insert(cloud: np.ndarray):
        tree = octomap.OcTree(grid.resolution)
        tree.insertPointCloud(cloud, origin)
        return tree

    runs = {
        "octomap insertPointCloud, full scan": lambda: octomap_insert(points),
        "octomap insertPointCloud, rays meeting the grid": lambda: octomap_insert(relevant),
        "ours insert_points (exact)": lambda: insert_points(grid, points, origin, device=args.device),
        "ours exact, tensor traversal (the GPU code)": lambda: tensor_traversal(grid, points, args.device),
    }
    results = {name: fn() for name, fn in runs.items()}  # warm-up, and the outputs compared below
    results = {name: r.state if isinstance(r, VoxelGrid) else r for name, r in results.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so load changes hit every row alike
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append((time.perf_counter() - start) * 1e3)
    reference = statistics.median(times["octomap insertPointCloud, rays meeting the grid"])
    octo = octomap_states(results["octomap insertPointCloud, full scan"], grid)
    print("\n| method | median ms | octomap (grid rays) / this | agreement with octomap | occupied | free |")
    print("|---|---|---|---|---|---|")
    for name in runs:
        state = octomap_states(results[name], grid) if name.startswith("octomap") else results[name]
        agree = np.mean(state == octo)
        both_free = np.count_nonzero((state == FREE) & (octo == FREE))
        free_jaccard = both_free / max(np.count_nonzero((state == FREE) | (octo == FREE)), 1)
        occupied_same = np.array_equal(state == OCCUPIED, octo == OCCUPIED)
        median = statistics.median(times[name])
        print(f"| {name} | {median:.1f} | {reference / median:.2f} | {100 * agree:.3f} % of voxels; free Jaccard "
              f"{free_jaccard:.4f}; occupied {'identical' if occupied_same else 'differs'} | "
              f"{np.count_nonzero(state == OCCUPIED)} | {np.count_nonzero(state == FREE)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
