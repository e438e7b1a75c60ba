"""Geometry-first learned occupancy: SGBM voxel geometry in, a cleaned and completed grid out.

The network sees only what transfers from the simulator to real cameras (DESIGN "Learning
that transfers to real sensors"): the project's own ``sgbm`` occupancy of the frame (stereo
depth voxelized with exact free space) and plain geometry, per voxel of the requested grid
(:func:`assemble_features`, :data:`FEATURES`):

* ``occupied``, ``free``, ``unknown``: the ``sgbm`` grid's state (one-hot);
* ``log_hits``: log(1 + number of SGBM depth pixels that fall in the voxel);
* ``in_view``: the voxel centre lies in the left camera's image (the frustum);
* ``height``: the voxel centre's z in the grid frame (metres / 2);
* ``distance``: distance of the centre to the left camera centre (metres / 25);
* ``depth_step``: log of the depth change of one pixel of disparity at that distance,
  ``d^2 / (f B)`` metres (how far a stereo hit there may lie from its surface; it
  encodes the rig's baseline and focal length).

Output: occupancy logits ``= baseline + residual``, where the baseline is ``+margin`` where
``sgbm`` is occupied and ``-margin`` elsewhere, and the residual comes from a small U-Net
whose last layer is zero-initialized: the untrained network IS ``sgbm``, and training
can only move it where the simulator says it is wrong (DESIGN: "a learned method starts at
its classical baseline"). Two layouts (:attr:`GeometryNetConfig.layout`):

* ``bev`` (:class:`BevGeometryOccNet`, shipped): the heights of a column are channels of a
  2-D U-Net over the ground plane (LMSCNet's layout): ~8x cheaper than 3-D convolutions at
  the same receptive field, so it runs within 2x of ``sgbm`` on a CPU; fixed number of
  height layers (the grid's Z must equal :attr:`GeometryNetConfig.height`).
* ``voxel`` (:class:`GeometryOccNet`): a 3-D U-Net on any grid (sides multiples of 8).

Checkpoints use the completion trainer's format (:mod:`.checkpoint`, kind
``occupancy_geometry``, ``torch.load(weights_only=True)``); :func:`load_geometry_net`
checks the architecture before loading (:func:`~.checkpoint.load_model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import depth_to_points
from depth_completion_ros.geometry.rays import camera_centre, depth_rays
from depth_completion_ros.geometry.transforms import invert_transform, transform_points
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, VoxelGrid, voxels_in_view

KIND = "occupancy_geometry"
FEATURES = ("occupied", "free", "unknown", "log_hits", "in_view", "height", "distance", "depth_step")


@dataclass(frozen=True)
class GeometryNetConfig:
    """Architecture of :class:`GeometryOccNet`.

    Attributes:
        in_channels: feature channels (``len(FEATURES)``).
        widths: channels of the three U-Net levels (``voxel``: 1/2, 1/4, 1/8 of the grid
            resolution; ``bev``: 1, 1/2, 1/4 of the ground-plane resolution).
        head_width: channels of the full-resolution 1x1 head.
        margin: the baseline logit magnitude (``+margin`` where sgbm is occupied).
        threshold: decision threshold on the logit (0 = probability 0.5); a model card
            may raise it to keep precision.
        layout: ``voxel`` (3-D U-Net) or ``bev`` (heights as channels of a 2-D U-Net).
        height: ``bev`` only: the number of height layers (the grid's Z).
    """

    in_channels: int = len(FEATURES)
    widths: tuple[int, int, int] = (16, 32, 48)
    head_width: int = 16
    margin: float = 2.0
    threshold: float = 0.0
    layout: str = "voxel"
    height: int = 32

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, values: Mapping) -> GeometryNetConfig:
        values = dict(values)
        if "widths" in values:
            values["widths"] = tuple(int(w) for w in values["widths"])
        return cls(**values)


def _block(cin: int, cout: int, stride: int = 1, dims: int = 3, kernel: int = 3) -> nn.Sequential:
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    groups = 4 if cout % 4 == 0 else 1
    return nn.Sequential(conv(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.GroupNorm(groups, cout), nn.ReLU(inplace=True))


def baseline_logit(features: torch.Tensor, margin: float) -> torch.Tensor:
    """(B, 1, X, Y, Z) the ``sgbm`` logit of (B, C, X, Y, Z) features: +margin where occupied, -margin elsewhere."""
    occupied = features[:, FEATURES.index("occupied"):FEATURES.index("occupied") + 1]
    return margin * (2.0 * occupied - 1.0)


class GeometryOccNet(nn.Module):
    """A small 3-D U-Net residual over the ``sgbm`` baseline logit.

    Works on any grid whose sides are multiples of 8 (256x256x32, 128x128x32, crops):
    the encoder runs at 1/2, 1/4 and 1/8 resolution, the decoder returns to 1/2, and a
    1x1x1 head at full resolution combines the upsampled context with the input features.
    The head's last layer is zero-initialized, so a fresh network outputs the baseline.
    """

    def __init__(self, config: GeometryNetConfig = GeometryNetConfig()) -> None:
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        c = config.in_channels
        self.enc1 = nn.Sequential(_block(c, w1, 2), _block(w1, w1))
        self.enc2 = nn.Sequential(_block(w1, w2, 2), _block(w2, w2))
        self.enc3 = nn.Sequential(_block(w2, w3, 2), _block(w3, w3))
        self.dec2 = _block(w3 + w2, w2)
        self.dec1 = _block(w2 + w1, w1)
        self.head = nn.Sequential(nn.Conv3d(w1 + c, config.head_width, 1), nn.ReLU(inplace=True),
                                  nn.Conv3d(config.head_width, 1, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, X, Y, Z) features -> (B, 1, X, Y, Z) occupancy logits."""
        if any(s % 8 for s in features.shape[2:]):
            raise BadInputError("features", f"grid sides must be multiples of 8, got {tuple(features.shape[2:])}")
        e1 = self.enc1(features)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[2:], mode="trilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[2:], mode="trilinear", align_corners=False), e1], 1))
        up = F.interpolate(d1, size=features.shape[2:], mode="trilinear", align_corners=False)
        return baseline_logit(features, self.config.margin) + self.head(torch.cat([up, features], 1))


class ColumnStem(nn.Module):
    """A 1x1 convolution over every (feature, height) channel of a voxel column, taken
    straight from the (B, C, X, Y, Z) layout: C batched (X*Y, Z) @ (Z, out) products,
    summed, instead of permuting the whole grid to (B, C*Z, X, Y) first (that transpose
    alone took a third of the network's CPU time). Followed by GroupNorm and ReLU.
    """

    def __init__(self, channels: int, height: int, out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, height, out))
        nn.init.kaiming_uniform_(self.weight.view(channels * height, out).T, a=5 ** 0.5)
        self.norm = nn.GroupNorm(4 if out % 4 == 0 else 1, out)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, X, Y, Z) -> (B, out, X, Y)."""
        b, c, x, y, z = features.shape
        mixed = torch.matmul(features.reshape(b, c, x * y, z), self.weight).sum(1)  # (B, X*Y, out)
        return F.relu(self.norm(mixed.transpose(1, 2).reshape(b, -1, x, y)), inplace=True)


class BevGeometryOccNet(nn.Module):
    """The residual over the ``sgbm`` baseline from a 2-D U-Net over the ground plane.

    A column's ``height`` voxels x ``in_channels`` features are the channels of one cell
    (LMSCNet's layout); a 1x1 stem (:class:`ColumnStem`) mixes them, the U-Net runs at 1,
    1/2 and 1/4 of the ground-plane resolution, and a 1x1 head returns one logit per height
    layer. X and Y must be multiples of 4; Z must equal ``height``. The head's last layer is
    zero-initialized, so a fresh network outputs the baseline.
    """

    def __init__(self, config: GeometryNetConfig) -> None:
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        self.enc1 = nn.Sequential(ColumnStem(config.in_channels, config.height, w1), _block(w1, w1, dims=2))
        self.enc2 = nn.Sequential(_block(w1, w2, 2, dims=2), _block(w2, w2, dims=2))
        self.enc3 = nn.Sequential(_block(w2, w3, 2, dims=2), _block(w3, w3, dims=2))
        # 1x1 decoders: the encoders' 3x3 convolutions give the context; 3x3 decoders cost
        # ~40 % of the network's CPU time and validated the same (5 RADIATE validation pairs
        # 0.152 vs 0.157 IoU, simulator 0.393 vs 0.395, same recipe otherwise)
        self.dec2 = _block(w3 + w2, w2, dims=2, kernel=1)
        self.dec1 = _block(w2 + w1, w1, dims=2, kernel=1)
        self.head = nn.Sequential(nn.Conv2d(w1, config.head_width, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(config.head_width, config.height, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, X, Y, Z) features -> (B, 1, X, Y, Z) occupancy logits."""
        b, c, x, y, z = features.shape
        if z != self.config.height or x % 4 or y % 4:
            raise BadInputError("features", f"this network takes grids of {self.config.height} height layers with "
                                f"X and Y multiples of 4, got {(x, y, z)}")
        e1 = self.enc1(features)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[2:], mode="bilinear", align_corners=False), e1], 1))
        residual = self.head(d1)  # (B, Z, X, Y)
        return baseline_logit(features, self.config.margin) + residual.permute(0, 2, 3, 1)[:, None]


LAYOUTS = {"voxel": GeometryOccNet, "bev": BevGeometryOccNet}


def build_geometry_net(config: GeometryNetConfig = GeometryNetConfig()) -> nn.Module:
    """The network of ``config.layout`` (``voxel`` or ``bev``)."""
    if config.layout not in LAYOUTS:
        raise BadInputError("layout", f"unknown network layout '{config.layout}'; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[config.layout](config)


def hit_counts(depth: np.ndarray, camera: CameraModel, T_grid_camera: np.ndarray, grid: VoxelGrid,
               max_range: float | None = None) -> np.ndarray:
    """(X, Y, Z) int64: the SGBM depth pixels (within ``max_range`` of the camera) per voxel."""
    rays = depth_rays(depth, camera, T_grid_camera)
    return point_hits(rays.points, rays.origin, grid, max_range)


def point_hits(points: np.ndarray, origin: np.ndarray, grid: VoxelGrid, max_range: float | None = None) -> np.ndarray:
    """(X, Y, Z) int64: the ``points`` ((N, 3) metres, grid frame) within ``max_range`` of
    ``origin`` per voxel."""
    if max_range is not None and len(points):
        points = points[np.linalg.norm(points - origin, axis=1) <= max_range]
    index, inside = grid.voxel_index(points)
    flat = np.ravel_multi_index(tuple(index[inside].T), grid.shape)
    return np.bincount(flat, minlength=int(np.prod(grid.shape))).reshape(grid.shape)


def assemble_features(sgbm_state: np.ndarray, hits: np.ndarray, camera: CameraModel, T_grid_camera: np.ndarray,
                      grid: VoxelGrid, focal_baseline: float | None = None) -> np.ndarray:
    """(C, X, Y, Z) float32 features (:data:`FEATURES`) from the ``sgbm`` state and the hit counts."""
    state = np.asarray(sgbm_state)
    if state.shape != tuple(grid.shape) or np.shape(hits) != tuple(grid.shape):
        raise BadInputError("sgbm_state", f"state {state.shape} / hits {np.shape(hits)} do not match the grid "
                            f"{tuple(grid.shape)}")
    out = np.empty((len(FEATURES), *grid.shape), np.float32)
    out[0] = state == OCCUPIED
    out[1] = state == FREE
    out[2] = state == UNKNOWN
    out[3] = np.log1p(np.asarray(hits, np.float32))
    out[4:] = rig_features(camera, T_grid_camera, grid, focal_baseline)
    return out


_RIG_FEATURES: dict[tuple, np.ndarray] = {}
_RIG_FEATURES_KEPT = 4


def rig_features(camera: CameraModel, T_grid_camera: np.ndarray, grid: VoxelGrid,
                 focal_baseline: float | None = None) -> np.ndarray:
    """(4, X, Y, Z) float32 ``in_view``, ``height``, ``distance``, ``depth_step``: they depend
    on the rig and the grid only, so the last few are kept (a node computes them once;
    they cost more than the rest of the features together).

    ``focal_baseline``: ``f B`` in px m (default: 40, a ZED-like rig, when unknown).
    """
    cam = camera.image_model()
    T = np.asarray(T_grid_camera, np.float64)
    fb = float(focal_baseline) if focal_baseline else 40.0
    key = (tuple(np.asarray(grid.origin, np.float64)), float(grid.resolution), tuple(grid.shape), cam.width,
           cam.height, np.asarray(cam.P, np.float64).tobytes(), T.tobytes(), round(fb, 6))
    if key in _RIG_FEATURES:
        return _RIG_FEATURES[key]
    origin = transform_points(T, camera_centre(cam)[None])[0]
    centres = grid.centres()
    distance = np.linalg.norm(centres - origin, axis=-1)
    out = np.empty((4, *grid.shape), np.float32)
    out[0] = voxels_in_view(grid, cam, invert_transform(T))
    out[1] = centres[..., 2] / 2.0
    out[2] = distance / 25.0
    out[3] = np.log(np.maximum(distance, 0.5) ** 2 / fb) / 3.0
    out.setflags(write=False)
    if len(_RIG_FEATURES) >= _RIG_FEATURES_KEPT:
        _RIG_FEATURES.pop(next(iter(_RIG_FEATURES)))
    _RIG_FEATURES[key] = out
    return out


def padded_shape(shape: tuple[int, ...], multiple: int = 8) -> tuple[int, ...]:
    return tuple(int(np.ceil(s / multiple) * multiple) for s in shape)


@torch.no_grad()
def predict_logits(model: nn.Module, features: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """(X, Y, Z) float32 logits of one frame's features (padded to multiples of 8 and cut
    back; a ``bev`` network's height is never padded)."""
    shape = features.shape[1:]
    target = padded_shape(shape)
    if model.config.layout == "bev":
        target = (*target[:2], shape[2])
    tensor = torch.as_tensor(features, device=device)[None]
    if target != tuple(shape):
        pad = []
        for s, t in zip(reversed(shape), reversed(target)):
            pad += [0, t - s]
        tensor = F.pad(tensor, pad)  # zeros: unknown-free padding reads as "nothing measured"
    logits = model(tensor)[0, 0, :shape[0], :shape[1], :shape[2]]
    return logits.float().cpu().numpy()


def occupancy_state(logits: np.ndarray, sgbm_state: np.ndarray, threshold: float = 0.0,
                    in_view: np.ndarray | None = None) -> np.ndarray:
    """(X, Y, Z) uint8 state: OCCUPIED where ``logits > threshold``; elsewhere ``sgbm``'s
    state, with its occupied voxels that the network clears set FREE. Outside ``in_view``
    (the camera frustum, when given) ``sgbm``'s state is kept as it is."""
    occupied = logits > threshold
    if in_view is not None:
        occupied = np.where(in_view, occupied, sgbm_state == OCCUPIED)
    rest = np.where(sgbm_state == OCCUPIED, np.uint8(FREE), sgbm_state.astype(np.uint8))
    return np.where(occupied, np.uint8(OCCUPIED), rest).astype(np.uint8)


def load_geometry_net(path: str | Path, device: str | torch.device = "cpu",
                      expected_config: GeometryNetConfig | None = None) -> tuple[nn.Module, dict]:
    """The network of a checkpoint (eval mode on ``device``) and the checkpoint dict
    (:func:`~.checkpoint.load_model` of kind :data:`KIND`).

    Raises:
        BadInputError: unreadable file, another kind, or an architecture mismatch.
    """
    from depth_completion_ros.models.checkpoint import load_model

    model, payload = load_model(path, KIND, expected_config)
    return model.to(device), payload
