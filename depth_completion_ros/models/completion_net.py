"""The guided depth-completion network (RGB + sparse depth + a classical prior).

Architecture (:class:`CompletionNet`, widths and depths from :class:`CompletionNetConfig`):

* two encoders, RGB and depth, each a stack of stride-2 levels; at every level the RGB
  features are added into the depth features (fusion at every scale), so the depth
  encoder's next level sees both;
* a decoder (bilinear upsampling + skip concatenation) back to quarter resolution;
* heads at quarter resolution, bilinearly upsampled to full resolution (the full-resolution
  detail comes from the classical prior the output is relative to):
  ``r`` (log-depth residual), ``a, b, c`` (the JARRN refine head) and the confidence.

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
MIN_SCALE = 0.1  # metres; floor of the per-image scale m
MIN_RELATIVE_DEPTH = 1e-3  # floor of relative depth before the log


@dataclass(frozen=True)
class CompletionNetConfig:
    """Widths and depths of :class:`CompletionNet`.

    Attributes:
        widths: channels of encoder levels 0..L-1 (level k at stride 4 * 2^k).
        blocks: extra 3x3 conv blocks per encoder level after its stride-2 conv.
        decoder_width: channels of the quarter-resolution decoder output.
    """

    widths: tuple[int, ...] = (16, 32, 48, 64)
    blocks: int = 1
    decoder_width: int = 16

    @property
    def stride(self) -> int:
        """Input height and width must be multiples of this."""
        return 2 ** (len(self.widths) + 1)

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> CompletionNetConfig:
        return cls(widths=tuple(int(w) for w in data["widths"]), blocks=int(data["blocks"]),
                   decoder_width=int(data["decoder_width"]))


PRESETS: dict[str, CompletionNetConfig] = {
    "small": CompletionNetConfig(widths=(16, 24, 32, 48), blocks=1, decoder_width=16),  # shipped, CPU
    "base": CompletionNetConfig(widths=(32, 64, 128, 256, 256), blocks=2, decoder_width=32),  # GPUs
    "tiny": CompletionNetConfig(widths=(8, 8), blocks=0, decoder_width=8),  # tests
}


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
    """(B, 3, H, W) [0, 1] -> zero-mean, unit-ish variance."""
    return (rgb - RGB_MEAN) / RGB_STD


def depth_scale(sparse: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) metres -> (B, 1, 1, 1) median of each image's valid depths (>= MIN_SCALE).

    An image without measurements gets 1 m.
    """
    scales = []
    for image in sparse:
        valid = image[image > 0]
        scales.append(valid.median() if valid.numel() else image.new_tensor(1.0))
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


class CompletionNet(nn.Module):
    """Guided completion network; see the module docstring.

    ``forward(rgb, sparse, prior) -> (depth, confidence)``:

    Args:
        rgb: (B, 3, H, W) float in [0, 1].
        sparse: (B, 1, H, W) metres, 0 = none.
        prior: (B, 1, H, W) metres, a dense classical fill of ``sparse`` (> 0 everywhere
            the fill reached).
        scale: optional (B,) per-image scale m in metres; default :func:`depth_scale`
            (an explicit input keeps the exported ONNX graph free of data-dependent shapes).

    Returns:
        depth (B, 1, H, W) metres and confidence (B, 1, H, W) in [0, 1]. H and W must be
        multiples of ``config.stride``.
    """

    HEAD_CHANNELS = 5  # r, a, b, c, confidence logit

    def __init__(self, config: CompletionNetConfig = PRESETS["small"]) -> None:
        super().__init__()
        self.config = config
        self.rgb_encoder = Encoder(3, config.widths, config.blocks)
        self.depth_encoder = Encoder(3, config.widths, config.blocks)  # sparse, mask, prior (relative log)
        self.decoder = Decoder(config.widths, config.decoder_width)
        self.head = nn.Conv2d(self.decoder.out_width, self.HEAD_CHANNELS, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def stride(self) -> int:
        return self.config.stride

    def forward(self, rgb: torch.Tensor, sparse: torch.Tensor, prior: torch.Tensor,
                scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scale = depth_scale(sparse) if scale is None else scale.view(-1, 1, 1, 1)
        mask = (sparse > 0).to(sparse.dtype)
        log_prior = relative_log_depth(prior, scale)
        depth_input = torch.cat([relative_log_depth(sparse, scale), mask, log_prior], dim=1)
        rgb_features = self.rgb_encoder(normalize_rgb(rgb))
        fused = self.depth_encoder(depth_input, rgb_features)
        heads = self.head(self.decoder(fused))
        heads = F.interpolate(heads, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        residual, a, b, c, confidence_logit = heads.split(1, dim=1)
        has_prior = (prior > 0).to(prior.dtype)
        visual = torch.exp(log_prior + residual) * has_prior + torch.exp(residual) * (1 - has_prior)
        refined = jarrn_refine(visual, a, b, c).clamp_min(MIN_RELATIVE_DEPTH)
        return refined * scale, torch.sigmoid(confidence_logit)
