"""Axis-aligned voxel grids: geometry only (where the voxels are), no storage.

A :class:`VoxelGrid` is a box of ``shape`` voxels of edge ``resolution`` whose minimum
corner is ``origin``, in the frame ``frame_id``. Voxel ``(i, j, k)`` has its centre at
``origin + (i + 0.5, j + 0.5, k + 0.5) * resolution``. The default is the SemanticKITTI
geometry: 256 x 256 x 32 voxels of 0.2 m, x in [0, 51.2), y in [-25.6, 25.6),
z in [-2, 4.4) in the LiDAR frame.

Per-voxel states, when a grid carries them, are :data:`UNKNOWN`, :data:`FREE` and
:data:`OCCUPIED` (DESIGN.md, "Occupancy").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from depth_completion_ros.errors import BadInputError

UNKNOWN, FREE, OCCUPIED = 0, 1, 2
IGNORE_LABEL = 255  # SemanticKITTI: a voxel excluded from evaluation


@dataclass(frozen=True)
class VoxelGrid:
    """Voxel grid geometry.

    Attributes:
        origin: (3,) minimum corner in metres, in ``frame_id``.
        resolution: voxel edge in metres.
        shape: (nx, ny, nz) voxel counts.
        frame_id: frame of the grid (default: the LiDAR frame).
    """

    origin: tuple[float, float, float] = (0.0, -25.6, -2.0)
    resolution: float = 0.2
    shape: tuple[int, int, int] = (256, 256, 32)
    frame_id: str = "velodyne"

    def __post_init__(self) -> None:
        origin = tuple(float(v) for v in np.asarray(self.origin, dtype=np.float64).reshape(3))
        shape = tuple(int(v) for v in np.asarray(self.shape).reshape(3))
        if not all(np.isfinite(origin)):
            raise BadInputError("VoxelGrid.origin", f"must be 3 finite numbers, got {self.origin}")
        if not (np.isfinite(self.resolution) and self.resolution > 0):
            raise BadInputError("VoxelGrid.resolution", f"must be a positive number of metres, got {self.resolution}")
        if min(shape) <= 0:
            raise BadInputError("VoxelGrid.shape", f"must be 3 positive counts, got {self.shape}")
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "resolution", float(self.resolution))

    @property
    def upper(self) -> np.ndarray:
        """(3,) maximum corner in metres."""
        return np.asarray(self.origin) + self.resolution * np.asarray(self.shape)

    def axis_centres(self, axis: int) -> np.ndarray:
        """(shape[axis],) float64 voxel-centre coordinates along one axis, metres."""
        return self.origin[axis] + (np.arange(self.shape[axis]) + 0.5) * self.resolution

    def centres(self) -> np.ndarray:
        """(nx, ny, nz, 3) float32 voxel centres in metres (cached, read-only)."""
        return self._centres

    @cached_property
    def _centres(self) -> np.ndarray:
        axes = np.meshgrid(*(self.axis_centres(a) for a in range(3)), indexing="ij")
        centres = np.stack(axes, axis=-1).astype(np.float32)
        centres.setflags(write=False)
        return centres

    def centre_index_range(self, lower: np.ndarray, upper: np.ndarray) -> tuple[slice, slice, slice]:
        """Slices of the voxels whose centres lie in the box ``[lower, upper]`` (clipped).

        Args:
            lower, upper: (3,) box corners in metres in the grid frame.
        """
        scaled_lo = (np.asarray(lower, dtype=np.float64) - self.origin) / self.resolution - 0.5
        scaled_hi = (np.asarray(upper, dtype=np.float64) - self.origin) / self.resolution - 0.5
        start = np.clip(np.ceil(scaled_lo), 0, self.shape).astype(int)
        stop = np.clip(np.floor(scaled_hi) + 1, 0, self.shape).astype(int)
        return tuple(slice(int(a), int(max(a, b))) for a, b in zip(start, stop))

    def voxel_index(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voxel indices of points.

        Args:
            points: (N, 3) metres in the grid frame.

        Returns:
            ``(index, inside)``: (N, 3) int64 indices (meaningful where ``inside``) and
            (N,) bool, True for points inside the grid.
        """
        index = np.floor((np.asarray(points, dtype=np.float64) - self.origin) / self.resolution).astype(np.int64)
        inside = np.all((index >= 0) & (index < np.asarray(self.shape)), axis=1)
        return index, inside
