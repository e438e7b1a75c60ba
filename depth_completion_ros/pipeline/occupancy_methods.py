"""Occupancy methods: one stereo frame in, a :class:`VoxelGrid` with states out.

A registry (as ``pipeline/engine.py`` has for completion): ``sgbm`` (stereo depth, then
voxelized with free space), ``learned`` (the OccDepth-style network) and ``lidar``
(the LiDAR scan voxelized, the reference)::

    method = create_occupancy_method("sgbm")            # or ("learned", weights=..., device=...)
    grid = method(frame, VoxelGrid())                    # states; labels / probability if known
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.rays import DepthRays, depth_rays
from depth_completion_ros.geometry.transforms import invert_transform
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid, voxels_in_view
from depth_completion_ros.pipeline.engine import resolve_device
from depth_completion_ros.pipeline.occupancy import insert_points
from depth_completion_ros.stereo.disparity import Disparity
from depth_completion_ros.stereo.matching import StereoParams, compute_disparity

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "occdepth_small.pt"


@dataclass(frozen=True)
class StereoFrame:
    """One synchronized stereo frame.

    Attributes:
        left, right: (H, W, 3) uint8 RGB images (rectified unless the models say otherwise).
        left_camera, right_camera: their models (the right P takes left-reference points,
            as CameraInfo; KITTI's P2/P3 both take camera-0 points).
        T_grid_camera: (4, 4) grid frame <- the frame the P matrices project from.
        lidar_points: optional (N, 3+) scan in the grid frame (``lidar`` method).
        lidar_origin: (3,) LiDAR position in the grid frame.
    """

    left: np.ndarray
    right: np.ndarray
    left_camera: CameraModel
    right_camera: CameraModel
    T_grid_camera: np.ndarray
    lidar_points: np.ndarray | None = None
    lidar_origin: np.ndarray = field(default_factory=lambda: np.zeros(3))


class OccupancyMethod(Protocol):
    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        """The occupancy of ``frame`` on ``grid``'s geometry."""


OCCUPANCY_METHODS: dict[str, Callable[..., OccupancyMethod]] = {}
NEEDS_LIDAR: set[str] = set()  # methods that read the frame's LiDAR scan (not a stereo pair alone)
TAKES_WEIGHTS: set[str] = set()  # methods with a ``weights`` option (a trained network)


def register_occupancy_method(name: str, *, needs_lidar: bool = False, takes_weights: bool = False) -> Callable:
    """Decorator registering an occupancy method factory and what it needs."""
    def decorator(factory: Callable[..., OccupancyMethod]) -> Callable[..., OccupancyMethod]:
        OCCUPANCY_METHODS[name] = factory
        if needs_lidar:
            NEEDS_LIDAR.add(name)
        if takes_weights:
            TAKES_WEIGHTS.add(name)
        return factory
    return decorator


def stereo_occupancy_methods() -> tuple[str, ...]:
    """The registered methods that work from a stereo pair alone (what the stereo node offers)."""
    return tuple(sorted(set(OCCUPANCY_METHODS) - NEEDS_LIDAR))


def create_occupancy_method(name: str, **options) -> OccupancyMethod:
    """The method ``name`` built with ``options`` (see each factory)."""
    if name not in OCCUPANCY_METHODS:
        raise BadInputError("method", f"unknown occupancy method '{name}'; choose from {sorted(OCCUPANCY_METHODS)}")
    return OCCUPANCY_METHODS[name](**options)


@register_occupancy_method("sgbm")
@dataclass
class SgbmOccupancy:
    """SGBM depth of the left image, voxelized with free space along each pixel's ray.

    Attributes:
        params: matcher settings; ``max_range``: depths beyond it only clear space (metres);
        stride: pixel subsampling of the hits (1: every matched pixel marks its voxel);
        ray_stride: pixel subsampling of the free-space rays (the traversal is the cost);
        device: the traversal's torch device.
    """

    params: StereoParams = field(default_factory=StereoParams)
    max_range: float = 45.0
    stride: int = 1
    ray_stride: int = 2
    device: str = "auto"

    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        disparity = compute_disparity(frame.left, frame.right, frame.left_camera, frame.right_camera, self.params)
        return self.from_disparity(disparity, frame, grid)

    def from_disparity(self, disparity: Disparity, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        """The occupancy of an already computed disparity of ``frame`` (callers that also
        publish the disparity compute it once)."""
        return self.from_rays(self.rays(disparity, frame), grid)

    def rays(self, disparity: Disparity, frame: StereoFrame) -> DepthRays:
        """The rays this method inserts for a disparity of ``frame``, in the grid's frame."""
        return depth_rays(disparity.to_depth(), frame.left_camera, frame.T_grid_camera, stride=self.stride,
                          ray_stride=self.ray_stride)

    def from_rays(self, rays: DepthRays, grid: VoxelGrid) -> VoxelGrid:
        """The occupancy of :meth:`rays` (free space within ``max_range``, hits)."""
        return insert_points(grid.geometry(), rays.points, rays.origin, max_range=self.max_range,
                             device=resolve_device(self.device), ray_mask=rays.ray_mask)


@register_occupancy_method("lidar", needs_lidar=True)
@dataclass
class LidarOccupancy:
    """The frame's LiDAR scan voxelized with free space (the reference)."""

    device: str = "auto"

    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        if frame.lidar_points is None:
            raise BadInputError("lidar_points", "the lidar method needs a LiDAR scan (--velodyne)")
        return insert_points(grid.geometry(), frame.lidar_points, frame.lidar_origin,
                             device=resolve_device(self.device))


@register_occupancy_method("occdepth", takes_weights=True)
class LearnedOccupancy:
    """The OccDepth-style network (``models/occupancy.py``).

    Args:
        weights: weights file (default: the shipped ``weights/occdepth_small.pt``).
        device: ``auto``, ``cpu`` or ``cuda``.
        native_grid: run the network on the requested grid itself instead of its trained
            grid followed by nearest upsampling (default False on every device). Use it with
            weights trained at the requested resolution (``config/train/occupancy_full_grid.yaml``
            for the full grid on a GPU): the shipped 0.4 m weights run natively at 0.2 m reach
            a held-out IoU of 0.108 against 0.427 for their upsampled answer.
    """

    def __init__(self, weights: str | Path | None = None, device: str = "auto",
                 native_grid: bool = False) -> None:
        from depth_completion_ros.models.occupancy import load_occdepth  # torch model code only when used

        self.device = resolve_device(device)
        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise BadInputError("weights", f"{path} does not exist; train one with `dcr train occupancy`")
        self.model = load_occdepth(str(path), self.device)
        self.native_grid = native_grid

    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        from depth_completion_ros.models.occupancy import OccDepthNet, predict_labels

        config = self.model.config
        model_grid = config.grid()
        model = self.model
        if self.native_grid and grid.geometry() != model_grid.geometry():
            model = OccDepthNet(config.with_grid(grid)).to(self.device).eval()
            model.load_state_dict(self.model.state_dict())
            model_grid = model.config.grid()
        factor, window = _upsampling_window(model_grid, grid)
        width, height = config.image_size
        left_camera = frame.left_camera.resized(width, height)
        right_camera = frame.right_camera.resized(width, height)

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.array(array, dtype=np.float32), device=self.device)[None]  # a writable copy

        def image(rgb: np.ndarray) -> torch.Tensor:
            resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            return tensor(resized.transpose(2, 0, 1) / 255.0)

        T_camera_grid = invert_transform(np.asarray(frame.T_grid_camera, dtype=np.float64))
        with torch.no_grad():
            logits = model(image(frame.left), image(frame.right), tensor(left_camera.P), tensor(right_camera.P),
                           tensor(T_camera_grid)).logits
            labels, probability = (v[0].cpu().numpy() for v in predict_labels(logits))
        if factor > 1:
            labels, probability = (np.repeat(np.repeat(np.repeat(v, factor, 0), factor, 1), factor, 2)
                                   for v in (labels, probability))
        labels, probability = labels[window], probability[window]
        seen = voxels_in_view(grid, left_camera, T_camera_grid)
        state = np.where(labels > 0, np.uint8(OCCUPIED), np.where(seen, np.uint8(FREE), np.uint8(UNKNOWN)))
        return grid.with_values(state=state.astype(np.uint8), labels=labels.astype(np.uint16),
                                probability=probability.astype(np.float32))


def _upsampling_window(source: VoxelGrid, target: VoxelGrid) -> tuple[int, tuple[slice, slice, slice]]:
    """``(f, window)``: ``target`` is ``source`` split f times per axis (integer f) and cut to
    ``window``, an aligned box inside it (the whole grid, or e.g. the near quarter of the
    SemanticKITTI grid that a short-baseline rig uses); else an error."""
    factor = int(round(source.resolution / target.resolution))
    offset = (np.asarray(target.origin) - np.asarray(source.origin)) / target.resolution
    start = np.round(offset).astype(int)
    stop = start + np.asarray(target.shape)
    if (factor < 1 or not np.isclose(source.resolution, factor * target.resolution)
            or not np.allclose(offset, start, atol=1e-6) or np.any(start < 0)
            or np.any(stop > factor * np.asarray(source.shape))):
        raise BadInputError("grid", f"the network's grid {source.shape} @ {source.resolution} m from "
                            f"{source.origin} cannot be upsampled to {target.shape} @ {target.resolution} m "
                            f"from {target.origin} (it must be an aligned box inside it); use native_grid=True")
    return factor, tuple(slice(int(a), int(b)) for a, b in zip(start, stop))


from depth_completion_ros.pipeline import occupancy_geometry  # noqa: E402,F401  registers "learned"
