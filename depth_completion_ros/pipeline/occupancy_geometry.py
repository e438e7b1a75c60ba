"""The ``learned`` occupancy method: the geometry-first network over ``sgbm``'s voxel geometry.

``create_occupancy_method("learned")`` runs the ``sgbm`` method on the frame (its own
matcher, its own exact free-space insertion), builds the per-voxel geometry features of
:mod:`depth_completion_ros.models.occupancy_geometry` from that grid and the SGBM depth,
and returns the network's occupancy. No image appearance reaches the network. The old
RGB OccDepth network stays registered as ``occdepth``.

A ``bev`` network has a fixed number of height layers (32: 6.4 m at 0.2 m); a grid with
fewer layers that divide it (128x128x16 @ 0.4 m) is computed on the same box at the
network's layer count and coarsened (:func:`coarsened`): occupied where any fine voxel is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid
from depth_completion_ros.pipeline.engine import resolve_device
from depth_completion_ros.pipeline.occupancy_methods import (
    SgbmOccupancy,
    StereoFrame,
    register_occupancy_method,
)
from depth_completion_ros.stereo.matching import compute_disparity

GEOMETRY_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "occupancy_geometry.pt"


@register_occupancy_method("learned", takes_weights=True)
class GeometryOccupancy:
    """``sgbm`` geometry, cleaned and completed by :class:`~..models.occupancy_geometry.GeometryOccNet`.

    Args:
        weights: checkpoint (default: the shipped ``weights/occupancy_geometry.pt``); ``None``
            with ``untrained=True`` builds a fresh (zero-residual) network, which equals ``sgbm``.
        device: ``auto``, ``cpu`` or ``cuda``.
        sgbm: the classical front end (default: the ``sgbm`` method's defaults).
        threshold: logit threshold (default: the checkpoint's).
    """

    def __init__(self, weights: str | Path | None = None, device: str = "auto", sgbm: SgbmOccupancy | None = None,
                 threshold: float | None = None, untrained: bool = False) -> None:
        from depth_completion_ros.models.occupancy_geometry import GeometryOccNet, load_geometry_net

        self.device = resolve_device(device)
        self.sgbm = sgbm if sgbm is not None else SgbmOccupancy(device=device)
        if untrained:
            self.model = GeometryOccNet().to(self.device).eval()
        else:
            path = Path(weights) if weights is not None else GEOMETRY_WEIGHTS
            if not path.is_file():
                raise BadInputError("weights", f"{path} does not exist; train one with `dcr train occupancy-geometry`")
            self.model, _ = load_geometry_net(path, self.device)
        self.threshold = self.model.config.threshold if threshold is None else float(threshold)

    def features(self, frame: StereoFrame, grid: VoxelGrid) -> tuple[np.ndarray, VoxelGrid]:
        """``(features, sgbm grid)`` of one frame (the network's input and its baseline)."""
        from depth_completion_ros.models.occupancy_geometry import assemble_features

        baseline, hits, focal_baseline = sgbm_geometry(frame, grid, self.sgbm)
        features = assemble_features(baseline.state, hits, frame.left_camera, frame.T_grid_camera, grid.geometry(),
                                     focal_baseline=focal_baseline)
        return features, baseline

    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        factor = self.refinement(grid)
        if factor > 1:
            fine = VoxelGrid(grid.origin, grid.resolution / factor, tuple(n * factor for n in grid.shape), grid.frame_id)
            return coarsened(self(frame, fine), factor, grid)
        return self._on_native_grid(frame, grid)

    def refinement(self, grid: VoxelGrid) -> int:
        """How many times finer than ``grid`` the network must run (1: on ``grid`` itself).

        Raises:
            BadInputError: a ``bev`` network whose layer count is not a multiple of the grid's.
        """
        config = self.model.config
        if config.layout != "bev" or grid.shape[2] == config.height:
            return 1
        if grid.shape[2] > config.height or config.height % grid.shape[2]:
            raise BadInputError("grid", f"has {grid.shape[2]} height layers; this network takes {config.height} "
                                f"(or a divisor of it): set the grid's shape and resolution so")
        return config.height // grid.shape[2]

    def _on_native_grid(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        from depth_completion_ros.models.occupancy_geometry import occupancy_state, predict_logits

        features, baseline = self.features(frame, grid)
        logits = predict_logits(self.model, features, self.device)
        state = occupancy_state(logits, baseline.state, self.threshold, features[4] > 0)
        probability = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return grid.geometry().with_values(state=state, probability=probability)


def sgbm_geometry(frame: StereoFrame, grid: VoxelGrid, sgbm: SgbmOccupancy) -> tuple[VoxelGrid, np.ndarray, float]:
    """What the network's features are made of: ``sgbm``'s grid of the frame, the (X, Y, Z)
    int64 count of its depth pixels per voxel, and the rig's ``f B`` (px m). The rays are
    computed once for the insert and the counts."""
    from depth_completion_ros.models.occupancy_geometry import point_hits

    disparity = compute_disparity(frame.left, frame.right, frame.left_camera, frame.right_camera, sgbm.params)
    rays = sgbm.rays(disparity, frame)
    hits = point_hits(rays.points, rays.origin, grid.geometry(), sgbm.max_range)
    return sgbm.from_rays(rays, grid), hits, disparity.focal_px * disparity.baseline_m


def coarsened(fine: VoxelGrid, factor: int, grid: VoxelGrid) -> VoxelGrid:
    """``fine`` (states and probabilities on ``grid``'s box, ``factor`` times finer) on ``grid``:
    OCCUPIED where any of a voxel's ``factor**3`` fine voxels is, else FREE where any is, else
    UNKNOWN; the probability is the fine voxels' maximum."""
    nx, ny, nz = grid.shape
    blocks = (nx, factor, ny, factor, nz, factor)
    state = fine.state.reshape(blocks)
    occupied = (state == OCCUPIED).any(axis=(1, 3, 5))
    free = (state == FREE).any(axis=(1, 3, 5))
    coarse = np.where(occupied, np.uint8(OCCUPIED), np.where(free, np.uint8(FREE), np.uint8(UNKNOWN)))
    probability = fine.probability.reshape(blocks).max(axis=(1, 3, 5))
    return grid.geometry().with_values(state=coarse.astype(np.uint8), probability=probability.astype(np.float32))
