"""Relative-depth teachers for SSI distillation (DMD3C stage 2) and the ``mono_aligned`` method.

A teacher maps RGB to *relative inverse depth* (disparity up to an unknown scale and
shift, larger = nearer), the output convention of MiDaS and Depth Anything:

* :class:`TeacherNet`: our own small RGB-only network, trained on the simulator with the
  SSI loss (the default teacher, shipped);
* :class:`TorchScriptTeacher` / :class:`OnnxTeacher`: a user-supplied exported model from
  a local path (e.g. MiDaS / Depth Anything exported by the user). Nothing is downloaded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.completion_net import CompletionNetConfig, Decoder, Encoder, normalize_rgb

TEACHER_PRESETS: dict[str, CompletionNetConfig] = {
    "small": CompletionNetConfig(widths=(16, 24, 32, 48), blocks=1, decoder_width=16),
    "tiny": CompletionNetConfig(widths=(8, 8), blocks=0, decoder_width=8),
}


class TeacherNet(nn.Module):
    """RGB-only relative-depth network: (B, 3, H, W) [0, 1] -> (B, 1, H, W) relative disparity > 0.

    Same encoder/decoder blocks as :class:`~.completion_net.CompletionNet`; H and W must be
    multiples of ``config.stride``.
    """

    def __init__(self, config: CompletionNetConfig = TEACHER_PRESETS["small"]) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(3, config.widths, config.blocks)
        self.decoder = Decoder(config.widths, config.decoder_width)
        self.head = nn.Conv2d(self.decoder.out_width, 1, 3, 1, 1)

    @property
    def stride(self) -> int:
        return self.config.stride

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        out = self.head(self.decoder(self.encoder(normalize_rgb(rgb))))
        return F.softplus(F.interpolate(out, size=rgb.shape[-2:], mode="bilinear", align_corners=False))


class RelativeDepthTeacher(ABC):
    """Interface of a relative-depth teacher."""

    @abstractmethod
    def predict(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float RGB in [0, 1] -> (B, 1, H, W) relative inverse depth (larger = nearer)."""


def _pad_to(rgb: torch.Tensor, stride: int) -> torch.Tensor:
    height, width = rgb.shape[-2:]
    pad_h, pad_w = (-height) % stride, (-width) % stride
    return F.pad(rgb, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else rgb


class NetworkTeacher(RelativeDepthTeacher):
    """Wraps a :class:`TeacherNet` (pads any input size to its stride)."""

    def __init__(self, net: TeacherNet, device: str = "cpu") -> None:
        self.net = net.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def predict(self, rgb: torch.Tensor) -> torch.Tensor:
        height, width = rgb.shape[-2:]
        return self.net(_pad_to(rgb.to(self.device), self.net.stride))[..., :height, :width]


class TorchScriptTeacher(RelativeDepthTeacher):
    """A TorchScript file mapping (B, 3, H, W) [0, 1] RGB to (B, H, W) or (B, 1, H, W) relative disparity."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        try:
            self.module = torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, ValueError) as error:
            raise BadInputError(str(path), f"not a loadable TorchScript teacher: {error}") from error
        self.device = device

    @torch.inference_mode()
    def predict(self, rgb: torch.Tensor) -> torch.Tensor:
        return _as_image(self.module(rgb.to(self.device)), rgb)


class OnnxTeacher(RelativeDepthTeacher):
    """An ONNX file with one (B, 3, H, W) float input in [0, 1] and one relative-disparity output."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise BadInputError(str(path), f"not a loadable ONNX teacher: {error}") from error
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, rgb: torch.Tensor) -> torch.Tensor:
        output = self.session.run(None, {self.input_name: rgb.detach().cpu().numpy().astype(np.float32)})[0]
        return _as_image(torch.from_numpy(output), rgb)


def _as_image(output: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Bring a teacher output to (B, 1, H, W) at the input size."""
    if output.dim() == 3:
        output = output[:, None]
    if output.dim() != 4 or output.shape[1] != 1:
        raise BadInputError("teacher output", f"expected (B, H, W) or (B, 1, H, W), got {tuple(output.shape)}")
    if output.shape[-2:] != rgb.shape[-2:]:
        output = F.interpolate(output.float(), size=rgb.shape[-2:], mode="bilinear", align_corners=False)
    return output.float()


def load_external_teacher(path: str | Path, device: str = "cpu") -> RelativeDepthTeacher:
    """A user-supplied teacher by file type: ``.onnx`` -> ONNX, anything else -> TorchScript."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(str(path), "teacher file not found")
    return OnnxTeacher(path) if path.suffix == ".onnx" else TorchScriptTeacher(path, device)
