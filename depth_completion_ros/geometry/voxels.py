"""Axis-aligned voxel grids: geometry, plus optional per-voxel state, class and probability.

A :class:`VoxelGrid` is a box of ``shape`` voxels of edge ``resolution`` whose minimum
corner is ``origin``, in the frame ``frame_id``. Voxel ``(i, j, k)`` has its centre at
``origin + (i + 0.5, j + 0.5, k + 0.5) * resolution``. The default is the SemanticKITTI
geometry: 256 x 256 x 32 voxels of 0.2 m, x in [0, 51.2), y in [-25.6, 25.6),
z in [-2, 4.4) in the LiDAR frame.

Per-voxel states, when a grid carries them, are :data:`UNKNOWN`, :data:`FREE` and
:data:`OCCUPIED` (DESIGN.md, "Occupancy"). A grid without storage is pure geometry;
:meth:`VoxelGrid.with_values` attaches (nx, ny, nz) arrays (``state``, ``labels``,
``probability``), which take no part in equality or hashing, so two grids compare equal
when their geometry does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel, project

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
        state: optional (nx, ny, nz) uint8 UNKNOWN / FREE / OCCUPIED.
        labels: optional (nx, ny, nz) uint8/uint16 class id per voxel (0 = empty).
        probability: optional (nx, ny, nz) float32 occupancy probability in [0, 1].
    """

    origin: tuple[float, float, float] = (0.0, -25.6, -2.0)
    resolution: float = 0.2
    shape: tuple[int, int, int] = (256, 256, 32)
    frame_id: str = "velodyne"
    state: np.ndarray | None = field(default=None, compare=False, repr=False)
    labels: np.ndarray | None = field(default=None, compare=False, repr=False)
    probability: np.ndarray | None = field(default=None, compare=False, repr=False)

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
        for name in ("state", "labels", "probability"):
            values = getattr(self, name)
            if values is not None and np.shape(values) != shape:
                raise BadInputError(f"VoxelGrid.{name}", f"has shape {np.shape(values)}, the grid is {shape}")

    def with_values(self, state: np.ndarray | None = None, labels: np.ndarray | None = None,
                    probability: np.ndarray | None = None) -> VoxelGrid:
        """This geometry carrying per-voxel arrays (each (nx, ny, nz) or None)."""
        return replace(self, state=state, labels=labels, probability=probability)

    def geometry(self) -> VoxelGrid:
        """This grid without per-voxel arrays."""
        return self.with_values()

    def downsampled(self, factor: int) -> VoxelGrid:
        """The geometry of the same box with voxels ``factor`` times larger (shape divisible)."""
        if factor < 1 or any(n % factor for n in self.shape):
            raise BadInputError("factor", f"must divide the grid shape {self.shape}, got {factor}")
        return VoxelGrid(self.origin, self.resolution * factor, tuple(n // factor for n in self.shape), self.frame_id)

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


def downsample_labels(labels: np.ndarray, invalid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and invalid mask of a grid with voxels ``factor`` times larger.

    A coarse voxel takes the most frequent non-empty class among its observed fine voxels
    (empty when none is occupied), and is invalid only when none of them is observed.

    Args:
        labels: (nx, ny, nz) integer class ids, 0 = empty; ``invalid``: (nx, ny, nz) bool.
        factor: integer that divides every axis.

    Returns:
        (nx/f, ny/f, nz/f) labels (same dtype) and invalid mask.
    """
    nx, ny, nz = labels.shape
    f = int(factor)
    if f < 1 or nx % f or ny % f or nz % f:
        raise BadInputError("factor", f"must divide the grid shape {labels.shape}, got {factor}")
    blocks = (nx // f, f, ny // f, f, nz // f, f)
    fine = labels.reshape(blocks).transpose(0, 2, 4, 1, 3, 5).reshape(nx // f, ny // f, nz // f, f**3)
    seen = ~invalid.reshape(blocks).transpose(0, 2, 4, 1, 3, 5).reshape(fine.shape)
    counted = np.where(seen, fine, 0).astype(np.int64)
    classes = np.unique(counted)
    classes = classes[classes > 0]
    coarse = np.zeros(fine.shape[:3], dtype=labels.dtype)
    if classes.size:
        counts = np.stack([(counted == c).sum(axis=-1) for c in classes], axis=-1)
        best = counts.argmax(axis=-1)
        coarse = np.where(counts.max(axis=-1) > 0, classes[best], 0).astype(labels.dtype)
    return coarse, ~seen.any(axis=-1)


def voxels_in_view(grid: VoxelGrid, camera: CameraModel, T_camera_grid: np.ndarray) -> np.ndarray:
    """(nx, ny, nz) bool: voxel centres in front of the camera and inside its image (the
    camera frustum, unbounded in depth).

    Args:
        grid: the grid geometry; ``camera``: the image's model (ROI / binning applied);
        T_camera_grid: (4, 4) the frame the model projects from <- the grid frame.
    """
    model = camera.image_model()
    uv, depth = project(model, grid.centres().reshape(-1, 3), T_camera_grid)
    with np.errstate(invalid="ignore"):
        inside = (depth > 0) & (uv[:, 0] >= -0.5) & (uv[:, 0] < model.width - 0.5)
        inside &= (uv[:, 1] >= -0.5) & (uv[:, 1] < model.height - 0.5)
    return inside.reshape(grid.shape)


@dataclass(frozen=True)
class OccupancyGroundTruth:
    """Ground-truth occupancy of a :class:`VoxelGrid`.

    Attributes:
        grid: the grid geometry (frame: the LiDAR frame by default).
        labels: (nx, ny, nz) uint16 class id per voxel, 0 = empty (includes hidden voxels).
        invalid: (nx, ny, nz) bool, True where no sensor observes the voxel.
    """

    grid: VoxelGrid
    labels: np.ndarray
    invalid: np.ndarray

    @property
    def state(self) -> np.ndarray:
        """(nx, ny, nz) uint8: UNKNOWN where invalid, else OCCUPIED or FREE."""
        state = np.where(self.labels > 0, np.uint8(OCCUPIED), np.uint8(FREE))
        return np.where(self.invalid, np.uint8(UNKNOWN), state).astype(np.uint8)


def touches(mask: np.ndarray) -> np.ndarray:
    """(nx, ny, nz) bool: voxels with a 6-neighbour in ``mask``."""
    out = np.zeros_like(mask)
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out
