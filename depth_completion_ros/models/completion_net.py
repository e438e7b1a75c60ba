"""The guided depth-completion network (RGB + sparse depth + a classical prior).

Architecture (:class:`CompletionNet`, widths and depths from :class:`CompletionNetConfig`):

* two encoders, RGB and depth, each a stack of stride-2 levels; at every level the RGB
  features are added into the depth features (fusion at every scale), so the depth
  encoder's next level sees both;
* a decoder (bilinear upsampling + skip concatenation) back to quarter resolution;
* heads at quarter resolution, bilinearly upsampled to full resolution (the full-resolution
  detail comes from the classical prior the output is relative to):
  ``r`` (log-depth residual), ``a, b, c`` (the JARRN refine head) and the confidence.

Radar (Sparse Beats Dense; ``radar_points`` > 0, inputs from :mod:`.radar_input`): the
depth encoder also gets the radar column map (relative log depth and its mask) as two
more channels, and an MLP over the padded radar point list (x, y, z relative to ``m``,
rcs, velocity), max-pooled over the valid points, is projected and added to the deepest
fused features ("radar-position injection"). With ``mask_classes`` > 0 a semantic-mask
head (the "compensation" head, :data:`MASK_CLASSES`) shares the decoder; it is trained
with cross-entropy and only returned on request.

Scale-aware normalization (the absolute-relative idea of JARRN). Each image gets a scale
``m``: the median of its valid sparse depths. Depth inputs enter as log-depth relative to
``m`` (``log d - log m``), so the network sees relative structure only and a scene twice
as far gives the same input up to a constant that the median removes. The visual branch
predicts relative depth ``D = prior / m * exp(r)`` around the classical prior; the refine
head gives ``out = (s D + f) p + D (1 - p)`` with ``s = 2 sigmoid(a)``,
``f = 0.5 tanh(b)`` (in units of ``m``) and a per-pixel gate ``p = sigmoid(c)``; the
metric output is ``m * out``. With zero-initialized heads the network starts as the
classical prior (``r = 0``, ``s = 1``, ``f = 0``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

RGB_MEAN, RGB_STD = 0.45, 0.25  # rough ImageNet-like normalization of [0, 1] RGB
RGB_NORMS = ("fixed", "per_image")
MIN_RGB_STD = 0.02  # floor of a per-image standard deviation (a flat image stays finite)
MIN_SCALE = 0.1  # metres; floor of the per-image scale m
MIN_RELATIVE_DEPTH = 1e-3  # floor of relative depth before the log


@dataclass(frozen=True)
class CompletionNetConfig:
    """Widths and depths of :class:`CompletionNet`.

    Attributes:
        widths: channels of encoder levels 0..L-1 (level k at stride 4 * 2^k).
        blocks: extra 3x3 conv blocks per encoder level after its stride-2 conv.
        decoder_width: channels of the quarter-resolution decoder output.
        radar_points: N of the radar point list (0 = no radar path).
        mask_classes: classes of the semantic-mask head (0 = no head).
        rgb_norm: ``fixed`` (one mean and scale for every image) or ``per_image`` (each
            image standardized by its own mean and standard deviation, so exposure and
            contrast carry no information: a bright real room must not look like the
            simulator's sky).
        radar_road: (camera height m, downward pitch deg) of the rig whose flat road cut the
            radar prior in training (:func:`~.radar_input.road_cut`); None = the column
            prior alone. The ``radar`` method's ``camera_height`` / ``pitch_deg`` replace it
            for another rig.
    """

    widths: tuple[int, ...] = (16, 32, 48, 64)
    blocks: int = 1
    decoder_width: int = 16
    radar_points: int = 0
    mask_classes: int = 0
    rgb_norm: str = "fixed"
    radar_road: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.rgb_norm not in RGB_NORMS:
            raise ValueError(f"rgb_norm must be one of {RGB_NORMS}, got '{self.rgb_norm}'")

    @property
    def stride(self) -> int:
        """Input height and width must be multiples of this."""
        return 2 ** (len(self.widths) + 1)

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> CompletionNetConfig:
        return cls(widths=tuple(int(w) for w in data["widths"]), blocks=int(data["blocks"]),
                   decoder_width=int(data["decoder_width"]),
                   radar_points=int(data.get("radar_points", 0)), mask_classes=int(data.get("mask_classes", 0)),
                   rgb_norm=str(data.get("rgb_norm", "fixed")),
                   radar_road=None if data.get("radar_road") is None else
                   (float(data["radar_road"][0]), float(data["radar_road"][1])))


PRESETS: dict[str, CompletionNetConfig] = {
    "small": CompletionNetConfig(widths=(16, 24, 32, 48), blocks=1, decoder_width=16, rgb_norm="per_image"),  # CPU
    "base": CompletionNetConfig(widths=(32, 64, 128, 256, 256), blocks=2, decoder_width=32),  # GPUs
    "tiny": CompletionNetConfig(widths=(8, 8), blocks=0, decoder_width=8),  # tests
    "radar_small": CompletionNetConfig(widths=(16, 24, 32, 48), blocks=1, decoder_width=16, radar_points=128,
                                       mask_classes=6, rgb_norm="per_image"),  # shipped radar model, CPU
    "radar_tiny": CompletionNetConfig(widths=(8, 8), blocks=0, decoder_width=8, radar_points=16, mask_classes=6),
}
# Classes of the semantic-mask head: SemanticKITTI learning ids (1-19) grouped coarsely;
# 0 is "nothing" (sky / no surface), which tells the network where there is no depth.
MASK_CLASSES = ("nothing", "ground", "vehicle", "human", "structure", "vegetation")
RADAR_MLP_WIDTH = 64
# Feature scales of the radar point list after x, y, z / m: rcs (dBsm), vx, vy (m/s).
RADAR_FEATURE_SCALE = (20.0, 10.0, 10.0)


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """Stride-2 levels after a stride-4 stem; ``forward(x, added)`` adds ``added[k]`` after level k.

    Level 0 (the stem: two stride-2 convs) is at stride 4, level k at stride 4 * 2^k.
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], blocks: int) -> None:
        super().__init__()
        stem = [conv_block(in_channels, max(widths[0] // 2, 4), 2), conv_block(max(widths[0] // 2, 4), widths[0], 2)]
        levels = [nn.Sequential(*stem, *[conv_block(widths[0], widths[0]) for _ in range(blocks)])]
        for previous, width in zip(widths[:-1], widths[1:]):
            extra = [conv_block(width, width) for _ in range(blocks)]
            levels.append(nn.Sequential(conv_block(previous, width, 2), *extra))
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor, added: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        features = []
        for k, level in enumerate(self.levels):
            x = level(x)
            if added is not None:
                x = x + added[k]
            features.append(x)
        return features


class Decoder(nn.Module):
    """From the deepest level back to level 0 (quarter resolution) with skip concatenation."""

    def __init__(self, widths: tuple[int, ...], out_width: int) -> None:
        super().__init__()
        stages, previous = [], widths[-1]
        for k in range(len(widths) - 2, -1, -1):
            width = out_width if k == 0 else widths[k]
            stages.append(conv_block(previous + widths[k], width))
            previous = width
        self.stages = nn.ModuleList(stages)
        self.out_width = previous

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for stage, skip in zip(self.stages, reversed(features[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        return x


def normalize_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) [0, 1] -> zero-mean, unit-ish variance (one fixed mean and scale)."""
    return (rgb - RGB_MEAN) / RGB_STD


def standardize_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) [0, 1] -> each image minus its mean, over its standard deviation (all channels)."""
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    std = rgb.std(dim=(1, 2, 3), keepdim=True).clamp_min(MIN_RGB_STD)
    return (rgb - mean) / std


def depth_scale(sparse: torch.Tensor, empty: float = 1.0) -> torch.Tensor:
    """(B, 1, H, W) metres -> (B, 1, 1, 1) median of each image's valid depths (>= MIN_SCALE).

    An image without measurements gets ``empty`` metres.
    """
    scales = []
    for image in sparse:
        valid = image[image > 0]
        scales.append(valid.median() if valid.numel() else image.new_tensor(empty))
    return torch.stack(scales).clamp_min(MIN_SCALE).view(-1, 1, 1, 1)


def relative_log_depth(depth: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``log(depth / scale)`` where depth > 0, else 0."""
    valid = depth > 0
    return torch.where(valid, torch.log((depth / scale).clamp_min(MIN_RELATIVE_DEPTH)), torch.zeros_like(depth))


def jarrn_refine(depth: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """JARRN refine head: ``(s D + f) p + D (1 - p)``, s = 2 sigmoid(a), f = 0.5 tanh(b), p = sigmoid(c).

    All tensors (B, 1, H, W); the gate is a per-pixel sigmoid (never a softmax over rows,
    which would make the gates of a row sum to one and switch the refinement off).
    """
    scale_map, offset_map, gate = 2.0 * torch.sigmoid(a), 0.5 * torch.tanh(b), torch.sigmoid(c)
    return (scale_map * depth + offset_map) * gate + depth * (1.0 - gate)


class RadarInjection(nn.Module):
    """Radar-position injection: a per-point MLP, max-pooled over the valid points.

    ``forward(points (B, N, 6), valid (B, N) bool, scale (B, 1, 1, 1)) -> (B, C)``; a
    frame without valid points gives zeros.
    """

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(7, 32), nn.ReLU(inplace=True), nn.Linear(32, RADAR_MLP_WIDTH),
                                 nn.ReLU(inplace=True))
        self.project = nn.Linear(RADAR_MLP_WIDTH, out_channels)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, points: torch.Tensor, valid: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        position = points[..., :3] / scale.view(-1, 1, 1)
        rest = points[..., 3:] / points.new_tensor(RADAR_FEATURE_SCALE)
        valid = valid.to(points.dtype).unsqueeze(-1)
        features = self.mlp(torch.cat([position, rest, valid], dim=-1)) * valid  # ReLU output >= 0
        return self.project(features.amax(dim=1))


class CompletionNet(nn.Module):
    """Guided completion network; see the module docstring.

    ``forward(rgb, sparse, prior) -> (depth, confidence)``:

    Args:
        rgb: (B, 3, H, W) float in [0, 1].
        sparse: (B, 1, H, W) metres, 0 = none (the radar model: the radar point depths).
        prior: (B, 1, H, W) metres, a dense fill of ``sparse`` (> 0 everywhere the fill
            reached; 0 = none).
        scale: optional (B,) per-image scale m in metres; default :func:`depth_scale`
            (an explicit input keeps the exported ONNX graph free of data-dependent shapes).
        column: (B, 1, H, W) radar column map in metres (radar models only).
        radar: (B, N, 6) radar point list and radar_valid (B, N) bool (radar models only).
        with_mask: also return the semantic-mask logits (B, mask_classes, H, W).

    Returns:
        depth (B, 1, H, W) metres and confidence (B, 1, H, W) in [0, 1] (and the mask
        logits). H and W must be multiples of ``config.stride``.
    """

    HEAD_CHANNELS = 5  # r, a, b, c, confidence logit

    def __init__(self, config: CompletionNetConfig = PRESETS["small"]) -> None:
        super().__init__()
        self.config = config
        self.rgb_encoder = Encoder(3, config.widths, config.blocks)
        # sparse, mask, prior (relative log) [+ radar column map, its mask]
        self.depth_encoder = Encoder(5 if config.radar_points else 3, config.widths, config.blocks)
        self.radar_injection = RadarInjection(config.widths[-1]) if config.radar_points else None
        self.decoder = Decoder(config.widths, config.decoder_width)
        width = self.decoder.out_width
        self.head = nn.Conv2d(width, self.HEAD_CHANNELS, 3, 1, 1)
        self.mask_head = nn.Conv2d(width, config.mask_classes, 3, 1, 1) if config.mask_classes else None
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def stride(self) -> int:
        return self.config.stride

    def forward(self, rgb: torch.Tensor, sparse: torch.Tensor, prior: torch.Tensor,
                scale: torch.Tensor | None = None, column: torch.Tensor | None = None,
                radar: torch.Tensor | None = None, radar_valid: torch.Tensor | None = None,
                with_mask: bool = False) -> tuple[torch.Tensor, ...]:
        scale = depth_scale(sparse) if scale is None else scale.view(-1, 1, 1, 1)
        mask = (sparse > 0).to(sparse.dtype)
        log_prior = relative_log_depth(prior, scale)
        channels = [relative_log_depth(sparse, scale), mask, log_prior]
        if self.radar_injection is not None:
            if column is None or radar is None or radar_valid is None:
                raise ValueError("a radar model needs column, radar and radar_valid inputs")
            channels += [relative_log_depth(column, scale), (column > 0).to(column.dtype)]
        rgb_features = self.rgb_encoder(standardize_rgb(rgb) if self.config.rgb_norm == "per_image"
                                        else normalize_rgb(rgb))
        fused = self.depth_encoder(torch.cat(channels, dim=1), rgb_features)
        if self.radar_injection is not None:
            fused[-1] = fused[-1] + self.radar_injection(radar, radar_valid, scale)[:, :, None, None]
        features = self.decoder(fused)
        heads = F.interpolate(self.head(features), size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        residual, a, b, c, confidence_logit = heads.split(1, dim=1)
        has_prior = (prior > 0).to(prior.dtype)
        visual = torch.exp(log_prior + residual) * has_prior + torch.exp(residual) * (1 - has_prior)
        refined = jarrn_refine(visual, a, b, c).clamp_min(MIN_RELATIVE_DEPTH)
        if with_mask:
            if self.mask_head is None:
                raise ValueError("this network has no semantic-mask head (mask_classes = 0)")
            mask_logits = F.interpolate(self.mask_head(features), size=rgb.shape[-2:], mode="bilinear",
                                        align_corners=False)
            return refined * scale, torch.sigmoid(confidence_logit), mask_logits
        return refined * scale, torch.sigmoid(confidence_logit)
