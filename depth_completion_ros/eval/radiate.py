"""RADIATE stereo frames and their accumulated-LiDAR occupancy targets, for scoring stereo
occupancy on real images (``benchmarks/bench_occupancy_real.py``, ``dcr convert radiate``).

The loader (files, calibration, rectification, odometry, split) is
:mod:`depth_completion_ros.datasets.radiate`; this module adds what needs the pipeline's
occupancy code: the target voxelization and :class:`StereoFrame` s for the methods::

    seq = RadiateSequence(find_radiate())
    for i in seq.held_out:
        frame = stereo_frame(seq, i)                 # rectified pair + nearest sweep, base_link grid
        target = occupancy_target(seq, i)            # OccupancyGroundTruth, invalid outside the frustum
"""

from __future__ import annotations

import numpy as np

from depth_completion_ros.datasets.radiate import ZED_GRID, RadiateSequence
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.pipeline.occupancy import insert_points
from depth_completion_ros.pipeline.occupancy_methods import StereoFrame
from depth_completion_ros.sim.occupancy import OccupancyGroundTruth

TARGET_LABEL = 1  # class-less occupied voxel (scored for completion only; SemanticKITTI counting)


def stereo_frame(seq: RadiateSequence, index: int, grid: VoxelGrid = ZED_GRID) -> StereoFrame:
    """Pair ``index`` rectified, with its nearest sweep deskewed to the camera stamp as
    ``lidar_points`` (and its origin) in ``grid``'s frame (base_link at that stamp)."""
    left, right = seq.rectified_images(index)
    points, origin = seq.sweep_in_grid(seq.pairs[index].sweep, index)
    rect = seq.rectification
    return StereoFrame(left, right, rect.left, rect.right, seq.T_base_left, lidar_points=points, lidar_origin=origin)


def occupancy_target(seq: RadiateSequence, index: int, grid: VoxelGrid = ZED_GRID,
                     frustum: np.ndarray | None = None) -> OccupancyGroundTruth:
    """Accumulated-LiDAR occupancy of pair ``index`` on ``grid`` (base_link at its stamp).

    Every sweep of :meth:`RadiateSequence.window`, deskewed to the stamp, is inserted with
    free space (:func:`~depth_completion_ros.pipeline.occupancy.insert_points`).

    Args:
        frustum: the grid's camera-frustum mask (default: :meth:`RadiateSequence.frustum`).

    Returns:
        labels :data:`TARGET_LABEL` where a point of any sweep falls, 0 elsewhere; ``invalid``
        where no sweep's ray reached the voxel or its centre lies outside the camera frustum
        (not scored, as SemanticKITTI's invalid voxels).
    """
    occupied = np.zeros(grid.shape, bool)
    observed = np.zeros(grid.shape, bool)
    for k in seq.window(index):
        points, origin = seq.sweep_in_grid(k, index)
        state = insert_points(grid.geometry(), points, origin).state
        occupied |= state == OCCUPIED
        observed |= state != UNKNOWN
    if frustum is None:
        frustum = seq.frustum(grid)
    labels = np.where(occupied, np.uint16(TARGET_LABEL), np.uint16(0))
    return OccupancyGroundTruth(grid.geometry(), labels, ~(observed & frustum))
