"""OccDepth-style stereo occupancy network (Miao et al., 2023), small enough for a CPU.

Pipeline (shapes for batch B, image H x W, grid X x Y x Z, ``D`` depth bins)::

    left, right (B,3,H,W) --shared ImageEncoder--> features at strides 4 and 8
    stereo correlation at stride 4 + left features --> depth logits (B,D,H/4,W/4) in LID bins
    voxel centres --P_left, P_right--> Stereo-SFA per scale: mean of the two views weighted
        by their cosine similarity where both see the voxel, the single view elsewhere
    depth prior: the bin probability at each voxel's (u, v, depth bin) -> features * prior
    3-D U-Net --> class logits (B, C, X, Y, Z); class 0 is empty space

The depth bins use linear-increasing discretization (LID, as CaDDN and OccDepth):
bin ``i`` starts at ``d_min + (d_max - d_min) i (i + 1) / (D (D + 1))``. :meth:`LidBins.index`
is THE discretization: training targets, the lift into voxels and decoding
(:meth:`LidBins.decode`, through its inverse :meth:`LidBins.depth`) all go through it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.models.checkpoint import load_model

KIND = "occdepth"  # its checkpoints' kind (models/checkpoint.py)
NUM_CLASSES = 20  # 0 = empty, 1-19 SemanticKITTI learning ids


@dataclass(frozen=True)
class LidBins:
    """Linear-increasing depth discretization.

    Attributes:
        d_min, d_max: depth range in metres; ``count``: number of bins D.
    """

    d_min: float = 2.0
    d_max: float = 60.0
    count: int = 32

    @property
    def _step(self) -> float:
        return 2.0 * (self.d_max - self.d_min) / (self.count * (self.count + 1))

    def index(self, depth: torch.Tensor) -> torch.Tensor:
        """Continuous bin coordinate of depths: bin ``i`` covers ``[i, i + 1)``.

        Args:
            depth: (...) metres. Returns (...) float, not clipped (< 0 below d_min, down
            to -0.5; >= count at d_max and beyond).
        """
        scaled = 1.0 + 8.0 * (depth - self.d_min) / self._step
        return -0.5 + 0.5 * torch.sqrt(scaled.clamp_min(0.0))

    def depth(self, index: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`index`: (...) metres at continuous bin coordinates (>= 0)."""
        return self.d_min + self._step * index * (index + 1.0) / 2.0

    def target(self, depth: torch.Tensor) -> torch.Tensor:
        """(...) int64 training target: the bin of each depth, -1 where the depth is 0,
        non-finite or outside ``[d_min, d_max)``."""
        index = self.index(torch.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0))
        valid = (depth > 0) & (index >= 0) & (index < self.count)
        return torch.where(valid, index.floor().clamp(0, self.count - 1).long(), torch.full_like(index, -1).long())

    def decode(self, probability: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """Expected depth in metres of bin probabilities along ``dim`` (bin centres from :meth:`depth`)."""
        centres = self.depth(torch.arange(self.count, dtype=probability.dtype, device=probability.device) + 0.5)
        shape = [1] * probability.dim()
        shape[dim] = self.count
        return (probability * centres.view(shape)).sum(dim=dim)


@dataclass(frozen=True)
class OccDepthConfig:
    """Architecture of :class:`OccDepthNet` (stored in checkpoints and checked on load).

    Attributes:
        grid_origin, grid_resolution, grid_shape: the voxel grid in the LiDAR frame.
        image_size: (width, height) the images are resized to.
        encoder_channels: 2-D encoder widths at strides 2, 4 and 8.
        sfa_channels: per-scale channels sampled into the voxels.
        max_disparity: correlation range at stride 4, pixels of that scale.
        depth_bins: the LID bins.
        voxel_channels: 3-D U-Net widths at grid strides 1, 2 and 4.
        num_classes: output classes, 0 = empty.
    """

    grid_origin: tuple[float, float, float] = (0.0, -25.6, -2.0)
    grid_resolution: float = 0.4
    grid_shape: tuple[int, int, int] = (128, 128, 16)
    image_size: tuple[int, int] = (416, 128)
    encoder_channels: tuple[int, int, int] = (16, 24, 32)
    sfa_channels: int = 12
    max_disparity: int = 24
    depth_bins: LidBins = field(default_factory=LidBins)
    voxel_channels: tuple[int, int, int] = (8, 16, 32)
    num_classes: int = NUM_CLASSES

    def grid(self) -> VoxelGrid:
        return VoxelGrid(self.grid_origin, self.grid_resolution, self.grid_shape)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> OccDepthConfig:
        values = dict(values)
        values["depth_bins"] = LidBins(**values.get("depth_bins", {}))
        for key in ("grid_origin", "grid_shape", "image_size", "encoder_channels", "voxel_channels"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def with_grid(self, grid: VoxelGrid) -> OccDepthConfig:
        """The same network on another grid (the convolutions do not depend on its size)."""
        values = self.to_dict()
        values.update(grid_origin=grid.origin, grid_resolution=grid.resolution, grid_shape=grid.shape)
        return OccDepthConfig.from_dict(values)


def _conv2d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _conv3d(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


class ImageEncoder(nn.Module):
    """Shared 2-D encoder: (B, 3, H, W) -> features at strides 4 and 8."""

    def __init__(self, channels: tuple[int, int, int]) -> None:
        super().__init__()
        c2, c4, c8 = channels
        self.stride2 = nn.Sequential(_conv2d(3, c2, 2), _conv2d(c2, c2))
        self.stride4 = nn.Sequential(_conv2d(c2, c4, 2), _conv2d(c4, c4))
        self.stride8 = nn.Sequential(_conv2d(c4, c8, 2), _conv2d(c8, c8))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s4 = self.stride4(self.stride2(image))
        return s4, self.stride8(s4)


def correlation(left: torch.Tensor, right: torch.Tensor, max_disparity: int) -> torch.Tensor:
    """(B, max_disparity, H, W) mean feature product of left pixel x and right pixel x - d."""
    volume = left.new_zeros(left.shape[0], max_disparity, *left.shape[2:])
    for d in range(max_disparity):
        if d == 0:
            volume[:, 0] = (left * right).mean(dim=1)
        else:
            volume[:, d, :, d:] = (left[..., d:] * right[..., :-d]).mean(dim=1)
    return volume


def stereo_sfa(left: torch.Tensor, right: torch.Tensor, grid_left: torch.Tensor, grid_right: torch.Tensor,
               seen_left: torch.Tensor, seen_right: torch.Tensor) -> torch.Tensor:
    """Stereo feature aggregation of OccDepth at one scale.

    Args:
        left, right: (B, C, h, w) feature maps.
        grid_left, grid_right: (B, N, 2) normalized sample positions (grid_sample convention).
        seen_left, seen_right: (B, N) bool, the voxel projects into that image in front of it.

    Returns:
        (B, C, N): where both views see the voxel, their mean weighted by ``(1 + cos) / 2``
        of the two samples' cosine similarity; the one view that sees it elsewhere; 0 if none.
    """
    f_left = F.grid_sample(left, grid_left[:, None], align_corners=False)[:, :, 0]
    f_right = F.grid_sample(right, grid_right[:, None], align_corners=False)[:, :, 0]
    # cosine similarity written out: F.cosine_similarity's norm is ~10x slower on (B, C, N)
    dot = (f_left * f_right).sum(1)
    norms = ((f_left * f_left).sum(1) * (f_right * f_right).sum(1)).clamp_min(1e-12).sqrt()
    similarity = 0.5 * (1.0 + dot / norms)  # (B, N)
    both = (seen_left & seen_right)[:, None]
    single = torch.where(seen_left[:, None], f_left, torch.where(seen_right[:, None], f_right, torch.zeros_like(f_left)))
    return torch.where(both, similarity[:, None] * 0.5 * (f_left + f_right), single)


class UNet3D(nn.Module):
    """Three-level 3-D U-Net: (B, Cin, X, Y, Z) -> (B, classes, X, Y, Z); X, Y, Z divisible by 4."""

    def __init__(self, cin: int, channels: tuple[int, int, int], classes: int) -> None:
        super().__init__()
        c1, c2, c4 = channels
        self.stem = nn.Sequential(_conv3d(cin, c1, kernel=1), _conv3d(c1, c1))
        self.down2 = nn.Sequential(_conv3d(c1, c2, 2), _conv3d(c2, c2))
        self.down4 = nn.Sequential(_conv3d(c2, c4, 2), _conv3d(c4, c4))
        self.up2 = _conv3d(c4 + c2, c2)
        self.up1 = _conv3d(c2 + c1, c1)
        self.head = nn.Conv3d(c1, classes, 1)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(volume)
        s2 = self.down2(s1)
        s4 = self.down4(s2)
        u2 = self.up2(torch.cat([F.interpolate(s4, size=s2.shape[2:], mode="trilinear", align_corners=False), s2], 1))
        u1 = self.up1(torch.cat([F.interpolate(u2, size=s1.shape[2:], mode="trilinear", align_corners=False), s1], 1))
        return self.head(u1)


@dataclass
class OccDepthOutput:
    """Network outputs: ``logits`` (B, C, X, Y, Z) class scores (0 = empty) and
    ``depth_logits`` (B, D, H/4, W/4) LID-bin scores of the left image."""

    logits: torch.Tensor
    depth_logits: torch.Tensor


class OccDepthNet(nn.Module):
    """Stereo images -> semantic voxel occupancy (see the module docstring)."""

    def __init__(self, config: OccDepthConfig = OccDepthConfig()) -> None:
        super().__init__()
        self.config = config
        c2, c4, c8 = config.encoder_channels
        if any(n % 4 for n in config.grid_shape):
            raise BadInputError("OccDepthConfig.grid_shape", f"must be divisible by 4, got {config.grid_shape}")
        self.encoder = ImageEncoder(config.encoder_channels)
        self.depth_head = nn.Sequential(_conv2d(c4 + config.max_disparity, c4), _conv2d(c4, c4),
                                        nn.Conv2d(c4, config.depth_bins.count, 1))
        self.reduce4 = nn.Conv2d(c4, config.sfa_channels, 1)
        self.reduce8 = nn.Conv2d(c8, config.sfa_channels, 1)
        self.unet = UNet3D(2 * config.sfa_channels + 1, config.voxel_channels, config.num_classes)
        self.register_buffer("centres", torch.from_numpy(config.grid().centres().reshape(-1, 3).copy()),
                             persistent=False)

    def forward(self, left: torch.Tensor, right: torch.Tensor, P_left: torch.Tensor, P_right: torch.Tensor,
                T_camera_grid: torch.Tensor) -> OccDepthOutput:
        """Args:
            left, right: (B, 3, H, W) rectified images in [0, 1] at ``config.image_size``.
            P_left, P_right: (B, 3, 4) projections of those images (P_right takes left-camera points).
            T_camera_grid: (B, 4, 4) left optical frame <- grid frame.
        """
        batch, _, height, width = left.shape
        features = self.encoder(torch.cat([left, right], 0))
        (l4, r4), (l8, r8) = (f.split(batch) for f in features)
        depth_logits = self.depth_head(torch.cat([l4, correlation(l4, r4, self.config.max_disparity)], 1))

        points = self.centres @ T_camera_grid[:, :3, :3].transpose(1, 2) + T_camera_grid[:, None, :3, 3]  # (B,N,3)
        grid_left, seen_left, z = _normalized_projection(points, P_left, width, height)
        grid_right, seen_right, _ = _normalized_projection(points, P_right, width, height)
        sampled = [stereo_sfa(self.reduce4(l4), self.reduce4(r4), grid_left, grid_right, seen_left, seen_right),
                   stereo_sfa(self.reduce8(l8), self.reduce8(r8), grid_left, grid_right, seen_left, seen_right)]

        # Occupancy-aware depth: the bin probability at the voxel's own depth, by trilinear
        # sampling of the (bin, v, u) probability volume.
        bins = self.config.depth_bins
        probability = depth_logits.softmax(dim=1)[:, None]  # (B, 1, D, h, w)
        bin_coord = (2.0 * bins.index(z) / bins.count - 1.0)  # centres of bin i sit at i + 0.5
        where = torch.cat([grid_left, bin_coord[..., None]], dim=-1)[:, None, None]  # (B,1,1,N,3)
        prior = F.grid_sample(probability, where, align_corners=False)[:, :, 0, 0]  # (B, 1, N)
        prior = torch.where(seen_left[:, None], prior * bins.count, torch.zeros_like(prior))

        voxel_features = torch.cat([s * prior for s in sampled] + [prior], 1)
        volume = voxel_features.view(batch, -1, *self.config.grid_shape)
        return OccDepthOutput(logits=self.unet(volume), depth_logits=depth_logits)


def _normalized_projection(points: torch.Tensor, P: torch.Tensor, width: int,
                           height: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Project (B, N, 3) camera-frame points with (B, 3, 4) P.

    Returns:
        (B, N, 2) grid_sample coordinates (-1..1 spans the image edges), (B, N) bool in the
        image and in front (z > 0.1 m), and (B, N) depth z.
    """
    homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], -1)
    uvw = homogeneous @ P.transpose(1, 2)
    z = points[..., 2]
    w = uvw[..., 2].clamp_min(1e-3)
    u, v = uvw[..., 0] / w, uvw[..., 1] / w
    gx, gy = (2.0 * u + 1.0) / width - 1.0, (2.0 * v + 1.0) / height - 1.0
    seen = (z > 0.1) & (gx.abs() <= 1) & (gy.abs() <= 1)
    return torch.stack([gx, gy], -1).clamp(-2, 2), seen, z


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms: semantic CE, geometry (occupied vs empty BCE), depth bins."""

    semantic: float = 1.0
    geometry: float = 1.0
    depth: float = 0.5


def occupancy_loss(output: OccDepthOutput, labels: torch.Tensor, invalid: torch.Tensor, depth: torch.Tensor,
                   bins: LidBins, class_weights: torch.Tensor,
                   weights: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """Class-weighted CE + geometry BCE + depth-bin distillation.

    Args:
        output: network outputs.
        labels: (B, X, Y, Z) int64 class ids (0 empty, 255 ignored); ``invalid``: (B, X, Y, Z) bool.
        depth: (B, H, W) metres (0 = none), the distillation target, at the image size.
        bins: the LID bins; ``class_weights``: (C,) CE weights.

    Returns:
        The total loss and its terms as floats.
    """
    target = torch.where(invalid, torch.full_like(labels, 255), labels)
    semantic = F.cross_entropy(output.logits, target, weight=class_weights, ignore_index=255)
    valid = target != 255
    occupied_logit = torch.logsumexp(output.logits[:, 1:], 1) - output.logits[:, 0]
    geometry = F.binary_cross_entropy_with_logits(occupied_logit[valid], (target[valid] > 0).float())
    small_depth = F.interpolate(depth[:, None], size=output.depth_logits.shape[2:], mode="nearest")[:, 0]
    depth_term = F.cross_entropy(output.depth_logits, bins.target(small_depth), ignore_index=-1)
    depth_term = torch.nan_to_num(depth_term)  # no valid pixel at all: no depth term
    total = weights.semantic * semantic + weights.geometry * geometry + weights.depth * depth_term
    return total, {"semantic": semantic.item(), "geometry": geometry.item(), "depth": depth_term.item()}


def class_weights_from_counts(counts: torch.Tensor, power: float = 0.5) -> torch.Tensor:
    """(C,) CE weights ``(1 / log(1.02 + frequency)) ** power``; classes never seen get 0.

    ``power = 1`` is ENet's weighting; the default square root softens it (ENet's 30-50x
    for rare classes over empty space costs completion precision).
    """
    frequency = counts.double() / counts.sum().clamp_min(1)
    weights = (1.0 / torch.log(1.02 + frequency)) ** power
    return torch.where(counts > 0, weights, torch.zeros_like(frequency)).float()


def predict_labels(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-voxel class and occupancy probability from (B, C, X, Y, Z) logits.

    A voxel is occupied when ``P(occupied) = 1 - P(empty) >= 0.5`` (the quantity the
    geometry loss trains); its class is then the most likely of classes 1..C-1.

    Returns:
        (B, X, Y, Z) int64 labels (0 = empty) and (B, X, Y, Z) float P(occupied).
    """
    probability = 1.0 - logits.softmax(dim=1)[:, 0]
    labels = logits[:, 1:].argmax(dim=1) + 1
    return torch.where(probability >= 0.5, labels, torch.zeros_like(labels)), probability


def load_occdepth(path: str, device: str = "cpu") -> OccDepthNet:
    """An :class:`OccDepthNet` from a checkpoint of kind :data:`KIND` (eval mode on ``device``).

    Raises:
        BadInputError: unreadable file, another kind, or an architecture mismatch naming
            the expected and found shapes (:func:`~.checkpoint.load_model`).
    """
    model, _ = load_model(path, KIND)
    return model.to(device)