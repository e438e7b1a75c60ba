"""Voxel occupancy ground truth: per-voxel class and a visibility ("invalid") mask.

Classes: a voxel is occupied by an object when its CENTRE lies inside (or on) one of the
object's convex parts, tested exactly with the part's face planes (no sampling); where
parts overlap, the object listed later in the world wins (ground first, so a car beats
the road under it). 0 = empty.

Visibility: an empty voxel is observed when a sensor sees its centre: the centre is
within the LiDAR's vertical field of view (elevations of the first and last ring,
widened by half a voxel) and range, or (outside that field of view) inside the
camera's image, and the straight segment from that sensor to the centre meets no
surface more than half a voxel diagonal before the centre (one open3d ray per empty
voxel and sensor). An occupied voxel is observed when one of its 6 neighbours is
observed empty space: its surface faces a sensor. (With centre labels a ground slab's
top voxel layer lies just under the visible surface, so rays to occupied centres would
miss it.) Voxels no sensor observes are invalid, as in SemanticKITTI.

``state`` combines both as :data:`~depth_completion_ros.geometry.voxels.UNKNOWN` (not
observed), ``FREE`` (observed, empty) and ``OCCUPIED`` (observed, occupied).
"""

from __future__ import annotations

import numpy as np

from depth_completion_ros.geometry.camera import CameraModel, project
from depth_completion_ros.geometry.transforms import compose, invert_transform, transform_points
from depth_completion_ros.geometry.voxels import FREE, OccupancyGroundTruth, VoxelGrid, touches
from depth_completion_ros.sim.lidar import LidarModel
from depth_completion_ros.sim.meshes import INSIDE_TOLERANCE, ConvexPart
from depth_completion_ros.sim.world import WorldSnapshot


def voxelize_parts(parts: list[tuple[int, ConvexPart]], class_of: np.ndarray, grid: VoxelGrid,
                   T_grid_world: np.ndarray) -> np.ndarray:
    """Per-voxel class from exact voxel-centre-in-convex-part tests.

    Args:
        parts: ``(object index, part in world coordinates)``, in priority order (later wins).
        class_of: (G,) class id per object index.
        grid: the voxel grid.
        T_grid_world: (4, 4) grid frame <- world.

    Returns:
        (nx, ny, nz) uint16 class ids, 0 = empty.
    """
    labels = np.zeros(grid.shape, dtype=np.uint16)
    axes = [grid.axis_centres(a) for a in range(3)]
    pad = grid.resolution  # the exact plane test decides; the box only bounds the search
    for object_index, part in parts:
        local = part.transformed(T_grid_world)
        block = grid.centre_index_range(local.vertices.min(axis=0) - pad, local.vertices.max(axis=0) + pad)
        if any(s.stop <= s.start for s in block):
            continue
        normals, offsets = local.planes
        if _is_axis_aligned(normals):
            # The same half-space tests, separable per axis: select rows, columns and layers.
            along = [normals[:, a] != 0 for a in range(3)]
            inside_1d = [np.all(axes[a][block[a], None] * normals[along[a], a] <= offsets[along[a]] + INSIDE_TOLERANCE,
                                axis=1) for a in range(3)]
            inside = inside_1d[0][:, None, None] & inside_1d[1][None, :, None] & inside_1d[2][None, None, :]
        else:
            centres = np.stack(np.meshgrid(*(axes[a][block[a]] for a in range(3)), indexing="ij"), axis=-1)
            inside = local.contains(centres.reshape(-1, 3)).reshape(centres.shape[:3])
        labels[block][inside] = class_of[object_index]
    return labels


def _is_axis_aligned(normals: np.ndarray) -> bool:
    """True when every (P, 3) unit normal is exactly +-x, +-y or +-z."""
    return bool(np.all(np.count_nonzero(normals, axis=1) == 1))


def _visible_from(snapshot: WorldSnapshot, origin_world: np.ndarray, centres_world: np.ndarray,
                  margin: float) -> np.ndarray:
    """(N,) bool: the segment origin -> centre meets no surface before ``centre - margin``."""
    offsets = centres_world - origin_world.astype(centres_world.dtype)
    length = np.sqrt(np.einsum("ij,ij->i", offsets, offsets))
    hits = snapshot.cast(origin_world, offsets)  # distance in units of the segment length
    return hits.distance >= 1 - margin / np.maximum(length, margin)


def occupancy_ground_truth(snapshot: WorldSnapshot, grid: VoxelGrid, T_world_grid: np.ndarray,
                           lidar: LidarModel, T_world_lidar: np.ndarray, camera: CameraModel | None = None,
                           T_world_camera: np.ndarray | None = None) -> OccupancyGroundTruth:
    """Occupancy ground truth of the world at one time.

    Args:
        snapshot: the world.
        grid: the grid geometry; ``T_world_grid`` its pose (the LiDAR pose by default).
        lidar, T_world_lidar: the LiDAR that observes the grid.
        camera, T_world_camera: optionally, a camera that also observes it.
    """
    labels = voxelize_parts(list(snapshot.parts), snapshot.class_id, grid, invert_transform(T_world_grid))
    occupied = labels.reshape(-1) > 0
    empty = np.flatnonzero(~occupied)
    centres_grid = grid.centres().reshape(-1, 3)[empty]
    centres_world = transform_points(T_world_grid, centres_grid)
    margin = 0.5 * np.sqrt(3.0) * grid.resolution

    T_lidar_grid = compose(invert_transform(T_world_lidar), T_world_grid)
    in_lidar = centres_grid if np.allclose(T_lidar_grid, np.eye(4)) else transform_points(T_lidar_grid, centres_grid)
    horizontal = np.hypot(in_lidar[:, 0], in_lidar[:, 1])
    # tan(elevation) against the table's extreme rings, widened by half a voxel
    tan_lo, tan_hi = np.tan(np.radians(lidar.elevations_deg[[0, -1]])).astype(np.float32)
    half = np.float32(0.5 * grid.resolution)
    z = in_lidar[:, 2]
    distance_sq = horizontal * horizontal + z * z
    in_lidar_fov = (z + half >= tan_lo * horizontal) & (z - half <= tan_hi * horizontal)
    in_lidar_fov &= (distance_sq <= lidar.max_range**2) & (distance_sq >= lidar.min_range**2)

    seen = np.zeros(empty.size, dtype=bool)
    lidar_index = np.flatnonzero(in_lidar_fov)
    seen[lidar_index] = _visible_from(snapshot, T_world_lidar[:3, 3], centres_world[lidar_index], margin)
    if camera is not None and T_world_camera is not None:
        # The camera adds what lies outside the LiDAR's vertical field of view; inside it,
        # what the LiDAR cannot see is occluded for the nearby camera too.
        outside = np.flatnonzero(~in_lidar_fov)
        cam = camera.image_model()
        uv, depth = project(cam, transform_points(invert_transform(T_world_camera), centres_world[outside]))
        with np.errstate(invalid="ignore"):
            in_image = (depth > 0) & (uv[:, 0] >= -0.5) & (uv[:, 0] < cam.width - 0.5)
            in_image &= (uv[:, 1] >= -0.5) & (uv[:, 1] < cam.height - 0.5)
        camera_index = outside[in_image]
        seen[camera_index] = _visible_from(snapshot, T_world_camera[:3, 3], centres_world[camera_index], margin)
    seen_free = np.zeros(occupied.size, dtype=bool)
    seen_free[empty[seen]] = True
    seen_free = seen_free.reshape(grid.shape)
    observed = seen_free | ((labels > 0) & touches(seen_free))
    return OccupancyGroundTruth(grid=grid, labels=labels, invalid=~observed)
