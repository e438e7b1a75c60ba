"""The ``learned`` occupancy method: the geometry-first network over ``sgbm``'s voxel geometry.

``create_occupancy_method("learned")`` runs the ``sgbm`` method on the frame (its own
matcher, its own exact free-space insertion), builds the per-voxel geometry features of
:mod:`depth_completion_ros.models.occupancy_geometry` from that grid and the SGBM depth,
and returns the network's occupancy. No image appearance reaches the network. The old
RGB OccDepth network stays registered as ``occdepth``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.engine import resolve_device
from depth_completion_ros.pipeline.occupancy_methods import (
    OCCUPANCY_METHODS,
    LearnedOccupancy,
    SgbmOccupancy,
    StereoFrame,
    register_occupancy_method,
)
from depth_completion_ros.stereo.matching import compute_disparity

GEOMETRY_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "occupancy_geometry.pt"

OCCUPANCY_METHODS.setdefault("occdepth", LearnedOccupancy)  # the RGB OccDepth network, by its own name


@register_occupancy_method("learned")
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
        from depth_completion_ros.models.occupancy_geometry import geometry_features

        disparity = compute_disparity(frame.left, frame.right, frame.left_camera, frame.right_camera,
                                      self.sgbm.params)
        baseline = self.sgbm.from_disparity(disparity, frame, grid)
        features = geometry_features(baseline.state, disparity.to_depth(), frame.left_camera, frame.T_grid_camera,
                                     grid.geometry(), self.sgbm.max_range,
                                     focal_baseline=disparity.focal_px * disparity.baseline_m)
        return features, baseline

    def __call__(self, frame: StereoFrame, grid: VoxelGrid) -> VoxelGrid:
        from depth_completion_ros.models.occupancy_geometry import occupancy_state, predict_logits

        features, baseline = self.features(frame, grid)
        logits = predict_logits(self.model, features, self.device)
        state = occupancy_state(logits, baseline.state, self.threshold, features[4] > 0)
        probability = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return grid.geometry().with_values(state=state, probability=probability)
