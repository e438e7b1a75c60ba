"""Compiled voxel kernels for the CPU occupancy insertion: a 3-D DDA voxel walk
(Amanatides & Woo), hit marking and a per-voxel table lookup.

The GPU traversal in :mod:`depth_completion_ros.pipeline.occupancy` expands every plane
crossing into a tensor row; on a CPU that costs memory traffic for ~4 M crossings per
KITTI scan. This kernel clips each segment to the grid and walks it voxel by voxel in
compiled code instead, segments in parallel over the cores (numba). It visits the same
voxels (the tests compare the two). Marking the hits and mapping states to probabilities
are compiled too: as numpy passes over the 2.1 M-voxel grid they cost more than the walk.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

# numba tries TBB first and warns on every run when the installed TBB is too old for it
# (pip's tbb 2021.5 here); OpenMP and its own work queue are as fast for these kernels.
numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]


@njit(parallel=True, cache=True, nogil=True)
def mark_walked_voxels(origin: np.ndarray, ends: np.ndarray, shape: np.ndarray,
                       out: np.ndarray, value) -> None:  # pragma: no cover - compiled
    """Set ``out`` to ``value`` at every voxel each segment ``origin -> end`` passes through
    inside the grid, both ends of its clipped part included.

    Args:
        origin: (3,) float64 segment start, voxel units (voxel i spans [i, i+1)).
        ends: (N, 3) float64 segment ends, voxel units; non-finite rows are skipped.
        shape: (3,) int64 grid shape; the grid is the box [0, shape].
        out: (shape[0] * shape[1] * shape[2],) flat grid (C order), updated in place.
        value: what a walked voxel is set to (of ``out``'s dtype).

    A clipped segment takes exactly ``|last - first|`` steps per axis between the voxels of
    its clipped ends, so rounding can never walk it past its last voxel or out of the grid.
    """
    ox, oy, oz = origin[0], origin[1], origin[2]
    nx, ny, nz = shape[0], shape[1], shape[2]
    for i in prange(ends.shape[0]):
        dx, dy, dz = ends[i, 0] - ox, ends[i, 1] - oy, ends[i, 2] - oz
        if not (np.isfinite(dx) and np.isfinite(dy) and np.isfinite(dz)):
            continue
        # slab clipping to t in [0, 1]; scalars, not small arrays: an allocation per
        # segment would cost more than its walk
        enter_x, exit_x = _slab(ox, dx, nx)
        enter_y, exit_y = _slab(oy, dy, ny)
        enter_z, exit_z = _slab(oz, dz, nz)
        t_enter = max(0.0, enter_x, enter_y, enter_z)
        t_exit = min(1.0, exit_x, exit_y, exit_z)
        if not t_enter < t_exit:
            continue
        sx, sy, sz = ox + t_enter * dx, oy + t_enter * dy, oz + t_enter * dz
        x, y, z = _voxel(sx, nx), _voxel(sy, ny), _voxel(sz, nz)
        left_x = abs(_voxel(ox + t_exit * dx, nx) - x)
        left_y = abs(_voxel(oy + t_exit * dy, ny) - y)
        left_z = abs(_voxel(oz + t_exit * dz, nz) - z)
        step_x, next_x, dt_x = _axis_walk(x, sx, dx, left_x)
        step_y, next_y, dt_y = _axis_walk(y, sy, dy, left_y)
        step_z, next_z, dt_z = _axis_walk(z, sz, dz, left_z)
        index = (x * ny + y) * nz + z
        out[index] = value
        stride_x, stride_y = step_x * ny * nz, step_y * nz
        for _ in range(left_x + left_y + left_z):
            # cross the nearest plane; an axis with no steps left has its next crossing at
            # infinity, so ties and order are those of the plain comparison (x, then y, then z)
            if next_x <= next_y and next_x <= next_z:
                index += stride_x
                left_x -= 1
                next_x = next_x + dt_x if left_x > 0 else np.inf
            elif next_y <= next_z:
                index += stride_y
                left_y -= 1
                next_y = next_y + dt_y if left_y > 0 else np.inf
            else:
                index += step_z
                left_z -= 1
                next_z = next_z + dt_z if left_z > 0 else np.inf
            out[index] = value


@njit(parallel=True, cache=True, nogil=True)
def mark_point_voxels(points: np.ndarray, shape: np.ndarray, out: np.ndarray, value) -> None:  # pragma: no cover
    """Set ``out`` to ``value`` at the voxel of every point inside the grid.

    Args:
        points: (N, 3) float64 positions, voxel units (voxel i spans [i, i+1)); points
            outside the grid and non-finite rows are skipped.
        shape: (3,) int64 grid shape; ``out``: the flat grid (C order), updated in place.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    for i in prange(points.shape[0]):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        # the comparisons are False for NaN, so non-finite rows fall through
        if 0.0 <= px < nx and 0.0 <= py < ny and 0.0 <= pz < nz:
            out[(int(px) * ny + int(py)) * nz + int(pz)] = value


@njit(parallel=True, cache=True, nogil=True)
def table_lookup(table: np.ndarray, keys: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i] = table[keys[i]]`` over flat arrays, in parallel (numpy's fancy indexing of a
    2.1 M-voxel grid takes ~10x longer on 2 cores)."""
    for i in prange(keys.shape[0]):
        out[i] = table[keys[i]]


@njit(cache=True, inline="always")
def _slab(o: float, d: float, n: int) -> tuple[float, float]:  # pragma: no cover - compiled
    """Parameter interval in which ``o + t d`` lies in [0, n]; empty (inf, -inf) if never."""
    if d == 0.0:
        return (-np.inf, np.inf) if 0.0 <= o <= n else (np.inf, -np.inf)
    t0, t1 = -o / d, (n - o) / d
    return min(t0, t1), max(t0, t1)


@njit(cache=True, inline="always")
def _voxel(position: float, n: int) -> int:  # pragma: no cover - compiled
    """The voxel index of a position on one axis, clamped to [0, n - 1]."""
    return min(max(int(np.floor(position)), 0), n - 1)


@njit(cache=True, inline="always")
def _axis_walk(voxel: int, start: float, direction: float, steps: int) -> tuple[int, float, float]:  # pragma: no cover
    """Step (+1/-1), parameter of the first plane crossed (infinity when the axis takes no
    ``steps``) and parameter per voxel along one axis."""
    if steps == 0:
        return 1, np.inf, np.inf
    if direction > 0.0:
        return 1, (voxel + 1 - start) / direction, 1.0 / direction
    return -1, (voxel - start) / direction, -1.0 / direction
