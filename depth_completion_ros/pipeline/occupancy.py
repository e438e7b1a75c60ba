"""Voxel occupancy from points or depth images: occupied where points fall, free along
each ray from the sensor to the point, unknown elsewhere.

Entry points (ROS-free; the stereo occupancy node publishes their results)::

    grid = insert_points(VoxelGrid(), points_grid, sensor_origin_grid)      # one scan
    grid = insert_depth(VoxelGrid(), depth, camera, T_grid_camera)          # one depth image
    centres, labels, probability = occupied_voxels(grid)                    # PointCloud2 / markers
    cells = height_band_projection(grid, z_min=0.2, z_max=2.0)              # nav_msgs/OccupancyGrid
    local_map = OccupancyMap(VoxelGrid(frame_id="odom")); local_map.integrate(points, T_map_sensor)

Free space is found by an exact voxel traversal of each ray clipped to the grid. On the
CPU a compiled 3-D DDA walks the rays in parallel (numba); on a GPU every plane crossing
between a ray's first and last voxel names the voxel it enters, so all rays are traced
at once as flat tensors. As octomap's ``insertPointCloud`` does, a voxel hit by a point
in the same scan is occupied even when another ray crosses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.rays import depth_rays
from depth_completion_ros.geometry.ray_walk import mark_point_voxels, mark_walked_voxels, table_lookup
from depth_completion_ros.geometry.transforms import transform_points
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid


def _finite_points(points: np.ndarray, field_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(M, 3) float64 finite rows of (N, 3+) points and the (N,) bool mask of those rows."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise BadInputError(field_name, f"must be (N, 3+) points, got shape {points.shape}")
    xyz = points[:, :3].astype(np.float64)
    finite = np.all(np.isfinite(xyz), axis=1)
    return (xyz if finite.all() else xyz[finite]), finite


_STATE_PROBABILITY = np.zeros(3, np.float32)  # occupancy probability by state, a lookup table
_STATE_PROBABILITY[[UNKNOWN, FREE, OCCUPIED]] = (0.5, 0.0, 1.0)

_SEGMENTS_PER_CHUNK = 32768  # x at most 256 crossings per axis: < 2^24 rows of float32 table


def _axis_crossings(start: torch.Tensor, delta: torch.Tensor, first: torch.Tensor, last: torch.Tensor,
                    axis: int, shape: tuple[int, int, int]) -> torch.Tensor:
    """(M,) flat indices of the voxels entered where the segments cross planes normal to ``axis``.

    Crossing ``j`` of a segment lies on plane ``p0 + step j``, at ``t = t0 + j / |delta_axis|``;
    the voxel entered there is ``first + step (j + 1)`` along ``axis`` and
    ``floor(b0 + j db)`` along each other axis ``b`` (its position at the first crossing
    plus its change per crossing), so each crossing costs a few fused tensor operations.

    Args:
        start, delta: (N, 3) float segment starts and directions in voxel units.
        first, last: (N, 3) int64 voxels of the clipped segment's two ends.
        shape: the grid shape.
    """
    difference = last[:, axis] - first[:, axis]
    crossing = difference != 0
    start, delta, first, difference = start[crossing], delta[crossing], first[crossing], difference[crossing]
    counts = difference.abs()
    total = int(counts.sum())
    if total == 0:
        return first.new_zeros(0)
    step = difference.sign()
    others = [b for b in range(3) if b != axis]
    strides = (shape[1] * shape[2], shape[2], 1)
    inverse = 1.0 / delta[:, axis]
    t0 = ((first[:, axis] + (step > 0)).to(start.dtype) - start[:, axis]) * inverse
    # One table row per segment, repeated once per crossing. Flat indices and crossing
    # counts stay below 2^24 (the caller checks the grid and chunks the segments), so
    # float32 holds them exactly.
    per_segment = torch.cat([
        start[:, others] + t0[:, None] * delta[:, others],      # the other axes at crossing 0
        inverse.abs()[:, None] * delta[:, others],              # their change per crossing
        ((first[:, axis] + step) * strides[axis])[:, None].to(start.dtype),  # flat index along axis, crossing 0
        (step * strides[axis])[:, None].to(start.dtype),        # its change per crossing
        (torch.cumsum(counts, 0) - counts)[:, None].to(start.dtype),  # first crossing's row
    ], 1)
    row = torch.repeat_interleave(per_segment, counts, dim=0)
    j = torch.arange(total, device=counts.device, dtype=start.dtype) - row[:, 6]
    flat = torch.addcmul(row[:, 4], j, row[:, 5])
    for k, b in enumerate(others):
        voxel = torch.floor(torch.addcmul(row[:, k], j, row[:, 2 + k])).clamp_(0, shape[b] - 1)
        flat.add_(voxel, alpha=strides[b])
    return flat.long()


def _clip_to_box(o: torch.Tensor, ends: torch.Tensor, shape: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Clip segments ``o -> ends`` (voxel units) to the box ``[0, shape]`` (slab method).

    Returns:
        ``(start, stop, delta, first, last)`` of the segments that meet the box: (M, 3)
        clipped start and stop, (M, 3) full direction (end = o + delta), (M, 3) int64
        voxels of the clipped start and stop.
    """
    delta = ends - o
    # Axes a segment runs parallel to (delta = 0: t0/t1 infinite or NaN) are decided by o.
    t0 = (0.0 - o) / delta
    t1 = (shape.to(delta.dtype) - o) / delta
    parallel = delta == 0
    inside_slab = (o >= 0) & (o <= shape)
    t_low = torch.where(parallel, torch.where(inside_slab, -torch.inf, torch.inf), torch.minimum(t0, t1))
    t_high = torch.where(parallel, torch.where(inside_slab, torch.inf, -torch.inf), torch.maximum(t0, t1))
    t_enter = t_low.amax(1).clamp_min(0.0)
    t_exit = t_high.amin(1).clamp_max(1.0)
    keep = t_enter < t_exit
    delta, t_enter, t_exit = delta[keep], t_enter[keep], t_exit[keep]
    start = o + t_enter[:, None] * delta
    stop = o + t_exit[:, None] * delta
    upper = shape - 1
    first = torch.minimum(torch.floor(start).long().clamp_min(0), upper)
    last = torch.minimum(torch.floor(stop).long().clamp_min(0), upper)
    return start, stop, delta, first, last


def trace_free(grid: VoxelGrid, origin: np.ndarray, endpoints: np.ndarray, device: str = "cpu",
               out: np.ndarray | None = None, value: bool | int = True) -> np.ndarray:
    """Voxels crossed by the segments from ``origin`` to each endpoint, clipped to the grid.

    Args:
        grid: the grid; ``origin``: (3,) sensor position; ``endpoints``: (N, 3); all in
            metres in the grid frame.
        device: ``cpu``: a compiled voxel walk (:mod:`..geometry.ray_walk`) over all
            cores; a CUDA device: the tensor traversal of :func:`_trace_crossings`. Both
            visit the same voxels (float64 on the CPU, float32 on the GPU).
        out: optional (nx * ny * nz,) flat C-order array to mark in place (default: a new
            all-False bool grid); ``value``: what a crossed voxel is set to.

    Returns:
        (nx, ny, nz) view of ``out``, ``value`` at every voxel a segment passes through
        (last voxels included; the caller marks hits occupied over them).
    """
    if out is None:
        out = np.zeros(int(np.prod(grid.shape)), dtype=bool)
    scale = 1.0 / grid.resolution
    o = (np.asarray(origin, np.float64) - grid.origin) * scale  # voxel units
    ends = (np.asarray(endpoints, np.float64).reshape(-1, 3) - grid.origin) * scale
    if torch.device(device).type == "cpu":
        mark_walked_voxels(o, ends, np.asarray(grid.shape, np.int64), out, out.dtype.type(value))
        return out.reshape(grid.shape)
    if int(np.prod(grid.shape)) >= 2**24:
        raise BadInputError("grid", f"{grid.shape} has too many voxels for the float32 GPU traversal (2^24 at most)")
    # float32 on a GPU: exact to ~1e-5 voxel over a 256-voxel grid
    start, _, delta, first, last = _clip_to_box(torch.as_tensor(o, dtype=torch.float32, device=device),
                                                torch.as_tensor(ends, dtype=torch.float32, device=device),
                                                torch.tensor(grid.shape, device=device))
    out[_trace_crossings(start, delta, first, last, grid.shape).view(-1).cpu().numpy()] = value
    return out.reshape(grid.shape)


def _trace_crossings(start: torch.Tensor, delta: torch.Tensor, first: torch.Tensor, last: torch.Tensor,
                     shape: tuple[int, int, int]) -> torch.Tensor:
    """The GPU traversal: (nx, ny, nz) bool of the voxels of clipped segments, as flat tensors.

    Args:
        start, delta, first, last: (M, 3) tensors from :func:`_clip_to_box`.
        shape: the grid shape.
    """
    free = torch.zeros(int(np.prod(shape)), dtype=torch.bool, device=start.device)
    free[_flat_index(first, shape)] = True
    for lo in range(0, len(start), _SEGMENTS_PER_CHUNK):
        chunk = slice(lo, lo + _SEGMENTS_PER_CHUNK)
        for axis in range(3):
            free[_axis_crossings(start[chunk], delta[chunk], first[chunk], last[chunk], axis, shape)] = True
    return free.view(shape)


def _flat_index(voxels: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    return (voxels[:, 0] * shape[1] + voxels[:, 1]) * shape[2] + voxels[:, 2]


def insert_points(grid: VoxelGrid, points: np.ndarray, origin: np.ndarray, labels: np.ndarray | None = None,
                  max_range: float | None = None, device: str = "cpu", ray_mask: np.ndarray | None = None) -> VoxelGrid:
    """Occupancy of one scan.

    Args:
        grid: the grid geometry (any per-voxel arrays are replaced).
        points: (N, 3+) endpoints in metres in the grid frame; NaN/Inf rows are dropped.
        origin: (3,) sensor position in the grid frame.
        labels: optional (N,) class id per point; an occupied voxel takes the most frequent.
        max_range: rays longer than this mark free space up to it only, and no hit.
        device: torch device of the traversal (``cuda`` for the GPU).
        ray_mask: optional (N,) bool, the points whose rays are traced for free space
            (default: all); every point still marks its voxel occupied. Tracing a subset
            of a dense depth image costs a fraction of the time and loses no hit.

    Returns:
        ``grid`` with ``state`` (UNKNOWN / FREE / OCCUPIED), ``labels`` (uint16, when
        given) and ``probability`` (1 occupied, 0 free, 0.5 unknown).
    """
    origin = np.asarray(origin, dtype=np.float64).reshape(3)
    xyz, finite = _finite_points(points, "points")
    if ray_mask is not None:
        ray_mask = np.asarray(ray_mask, bool).reshape(-1)
        if ray_mask.shape[0] != finite.shape[0]:
            raise BadInputError("ray_mask", f"has {ray_mask.shape[0]} entries for {finite.shape[0]} points")
        ray_mask = ray_mask[finite]
    point_labels = None if labels is None else np.asarray(labels).reshape(-1)[finite]
    hits = xyz
    if max_range is not None and len(xyz):
        offsets = xyz - origin
        distance = np.linalg.norm(offsets, axis=1)
        short = distance <= max_range
        hits = xyz[short]
        point_labels = None if point_labels is None else point_labels[short]
        xyz = np.where(short[:, None], xyz, origin + offsets * (max_range / np.maximum(distance, 1e-9))[:, None])
    state = np.full(int(np.prod(grid.shape)), UNKNOWN, np.uint8)
    trace_free(grid, origin, xyz if ray_mask is None else xyz[ray_mask], device, out=state, value=FREE)
    # hits in voxel units by division, as VoxelGrid.voxel_index does (the same voxel to the last bit)
    mark_point_voxels((hits - grid.origin) / grid.resolution, np.asarray(grid.shape, np.int64), state,
                      np.uint8(OCCUPIED))
    voxel_labels = None
    if point_labels is not None:
        index, inside = grid.voxel_index(hits)
        voxel_labels = _majority_labels(grid, index[inside], point_labels[inside])
    probability = np.empty(state.shape, np.float32)
    table_lookup(_STATE_PROBABILITY, state, probability)
    return grid.with_values(state=state.reshape(grid.shape), labels=voxel_labels,
                            probability=probability.reshape(grid.shape))


def _majority_labels(grid: VoxelGrid, index: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(nx, ny, nz) uint16: the most frequent label of the points in each voxel, 0 elsewhere."""
    flat = np.ravel_multi_index(tuple(index.T), grid.shape)
    pairs, counts = np.unique(np.stack([flat, labels.astype(np.int64)], 1), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))  # per voxel, the largest count first
    pairs = pairs[order]
    first = np.ones(len(pairs), bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    out = np.zeros(int(np.prod(grid.shape)), dtype=np.uint16)
    out[pairs[first, 0]] = pairs[first, 1]
    return out.reshape(grid.shape)


def insert_depth(grid: VoxelGrid, depth: np.ndarray, camera: CameraModel, T_grid_camera: np.ndarray,
                 semantic: np.ndarray | None = None, max_range: float | None = None, device: str = "cpu",
                 stride: int = 1, ray_stride: int | None = None) -> VoxelGrid:
    """Occupancy of one depth image: :func:`insert_points` of its :func:`depth_rays` (see
    both for the arguments); ``max_range``: depths beyond it give free space up to it only
    (stereo depth far away is noise)."""
    rays = depth_rays(depth, camera, T_grid_camera, semantic, stride, ray_stride)
    return insert_points(grid, rays.points, rays.origin, rays.labels, max_range, device, rays.ray_mask)


def occupied_voxels(grid: VoxelGrid) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Centres of the OCCUPIED voxels of a grid with states (what ``occupancy/points`` publishes).

    Returns:
        (M, 3) float32 centres in metres in ``grid.frame_id``, (M,) class ids (or None)
        and (M,) float32 probabilities (or None), in C order of the voxel index.
    """
    if grid.state is None:
        raise BadInputError("grid", "carries no per-voxel state")
    occupied = grid.state == OCCUPIED
    centres = grid.centres()[occupied]
    labels = None if grid.labels is None else grid.labels[occupied]
    probability = None if grid.probability is None else grid.probability[occupied].astype(np.float32)
    return centres, labels, probability


def height_band_projection(grid: VoxelGrid, z_min: float, z_max: float) -> np.ndarray:
    """2-D occupancy of the voxels with centres in ``[z_min, z_max]`` (``nav_msgs/OccupancyGrid``).

    A column is occupied (100) when any voxel of the band is, free (0) when all its band
    voxels are free, and unknown (-1) otherwise; with probabilities, an occupied column
    reports ``round(100 * max P)``.

    Returns:
        (nx, ny) int8, indexed [x, y]. OccupancyGrid data is row-major with rows along the
        map's y axis, i.e. ``result.T.ravel()``, with origin ``grid.origin[:2]`` and
        resolution ``grid.resolution``.
    """
    if grid.state is None:
        raise BadInputError("grid", "carries no per-voxel state")
    band = grid.centre_index_range(np.array([-np.inf, -np.inf, z_min]), np.array([np.inf, np.inf, z_max]))[2]
    if band.stop <= band.start:
        raise BadInputError("z_min/z_max", f"[{z_min}, {z_max}] holds no voxel centre of the grid")
    state = grid.state[:, :, band]
    occupied = (state == OCCUPIED).any(axis=2)
    free = (state == FREE).all(axis=2)
    cells = np.full(grid.shape[:2], -1, dtype=np.int8)
    cells[free] = 0
    if grid.probability is not None:
        strongest = np.where(state == OCCUPIED, grid.probability[:, :, band], 0.0).max(axis=2)
        cells[occupied] = np.clip(np.round(100 * strongest[occupied]), 1, 100).astype(np.int8)
    else:
        cells[occupied] = 100
    return cells


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass
class OccupancyMap:
    """Log-odds accumulation of scans over time in a fixed frame (a local map).

    Attributes:
        grid: the map's geometry, in a fixed frame (e.g. ``odom``).
        hit, miss: probabilities of one hit / one pass (octomap's 0.7 and 0.4).
        clamp_min, clamp_max: log-odds clamping probabilities (octomap's 0.12 / 0.97).
        occupied_threshold: probability above which a voxel is OCCUPIED (below: FREE).
        log_odds: (nx, ny, nz) float32, 0 = never observed.
        observed: (nx, ny, nz) bool, updated at least once.
    """

    grid: VoxelGrid
    hit: float = 0.7
    miss: float = 0.4
    clamp_min: float = 0.12
    clamp_max: float = 0.97
    occupied_threshold: float = 0.5
    log_odds: np.ndarray = field(default=None)
    observed: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        self.grid = self.grid.geometry()
        if self.log_odds is None:
            self.log_odds = np.zeros(self.grid.shape, dtype=np.float32)
        if self.observed is None:
            self.observed = np.zeros(self.grid.shape, dtype=bool)

    def integrate(self, points: np.ndarray, T_map_sensor: np.ndarray, max_range: float | None = None,
                  device: str = "cpu") -> None:
        """Add one scan: (N, 3+) points in the sensor frame, the sensor pose ``T_map_sensor`` (4, 4)."""
        T = np.asarray(T_map_sensor, dtype=np.float64)
        scan = insert_points(self.grid, transform_points(T, _finite_points(points, "points")[0]), T[:3, 3],
                             max_range=max_range, device=device)
        update = np.select([scan.state == OCCUPIED, scan.state == FREE], [_logit(self.hit), _logit(self.miss)], 0.0)
        self.log_odds = np.clip(self.log_odds + update.astype(np.float32), _logit(self.clamp_min),
                                _logit(self.clamp_max)).astype(np.float32)
        self.observed |= scan.state != UNKNOWN

    def to_grid(self) -> VoxelGrid:
        """The map as a grid with ``state`` and ``probability`` (0.5 where never observed)."""
        probability = (1.0 / (1.0 + np.exp(-self.log_odds))).astype(np.float32)
        state = np.where(probability > self.occupied_threshold, np.uint8(OCCUPIED), np.uint8(FREE))
        state = np.where(self.observed, state, np.uint8(UNKNOWN))
        return self.grid.with_values(state=state, probability=probability)
