"""The ``mono_aligned`` method: a monocular relative-depth prior lifted to metres by sparse points.

For rigs with very few metric points (a sparse LiDAR, radar, any sparse source), as in
ref_depth:

1. the teacher (:mod:`depth_completion_ros.models.teacher`; default the shipped
   ``weights/teacher_small.pt``, or a user TorchScript / ONNX file given as the
   ``teacher`` parameter) predicts relative inverse depth ``r`` from the RGB image;
2. a robust global scale and shift maps ``r`` to metric disparity at the sparse points:
   ``median`` (default) matches medians and median absolute deviations (percentile-style,
   insensitive to outliers); ``lstsq`` is least squares in disparity space; the aligned
   depth is kept within half the nearest and twice the farthest point's depth;
3. a smooth local correction: the log-ratio residuals ``log(sparse / aligned)`` at the
   points are spread by normalized Gaussian convolution (``sigma_px``) and applied as a
   multiplicative field; far from any point the correction fades to 1.

The confidence is the normalized point density of step 3 (near points: high).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline.engine import DepthResult, register_method
from depth_completion_ros.pipeline.learned import SHIPPED_TEACHER, shipped_weights

ALIGNMENTS = ("median", "lstsq")
MIN_POINTS = 2
MIN_DISPARITY = 1e-3  # 1/m; a disparity this small means 1 km


@dataclass(frozen=True)
class MonoAlignedParams:
    """Parameters of ``mono_aligned`` (method parameters of the same names).

    Attributes:
        alignment: ``median`` (robust, default) or ``lstsq`` (least squares in disparity).
        sigma_px: Gaussian sigma of the local correction, in pixels of the full image.
        density_scale: the local correction is weighted by ``density / (density + density_scale)``.
        teacher: optional path of a TorchScript or ONNX relative-depth model.
    """

    alignment: str = "median"
    sigma_px: float = 24.0
    density_scale: float = 0.002  # one point per ~500 px^2 gives half weight
    teacher: str = ""


def align_scale_shift(relative: np.ndarray, metric_disparity: np.ndarray, method: str = "median"
                      ) -> tuple[float, float]:
    """Scale s and shift t with ``s * relative + t ~ metric_disparity`` at the given points.

    Args:
        relative, metric_disparity: (N,) values at the sparse points.
        method: ``median``: s = ratio of the median absolute deviations, t from the medians;
            ``lstsq``: least squares.
    """
    if relative.size < MIN_POINTS:
        raise BadInputError("sparse", f"mono_aligned needs at least {MIN_POINTS} points, got {relative.size}")
    if method == "lstsq":
        design = np.column_stack([relative, np.ones_like(relative)]).astype(np.float64)
        (scale, shift), *_ = np.linalg.lstsq(design, metric_disparity.astype(np.float64), rcond=None)
        return float(scale), float(shift)
    if method != "median":
        raise BadInputError("alignment", f"'{method}' is not one of {ALIGNMENTS}")
    rel_median, metric_median = np.median(relative), np.median(metric_disparity)
    rel_spread = np.median(np.abs(relative - rel_median))  # median absolute deviations: outliers do not move them
    metric_spread = np.median(np.abs(metric_disparity - metric_median))
    scale = metric_spread / rel_spread if rel_spread > 0 else 0.0
    if scale == 0.0:  # a flat prediction: only the level can be matched
        return 0.0, float(metric_median)
    return float(scale), float(metric_median - scale * rel_median)


def local_correction(log_residual: np.ndarray, measured: np.ndarray, sigma_px: float, density_scale: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Smooth log-ratio correction field from residuals at the measured pixels.

    Args:
        log_residual: (H, W) ``log(sparse / aligned)`` at measured pixels (ignored elsewhere).
        measured: (H, W) bool.

    Returns:
        ``(correction (H, W) log factor, weight (H, W) in [0, 1))``; the correction is
        already multiplied by the weight, so it fades to 0 far from the points.
    """
    weights = measured.astype(np.float32)
    values = np.where(measured, log_residual, 0).astype(np.float32)
    spread_values = cv2.GaussianBlur(values, (0, 0), sigma_px)
    density = cv2.GaussianBlur(weights, (0, 0), sigma_px)
    mean = np.divide(spread_values, density, out=np.zeros_like(density), where=density > 1e-12)
    weight = density / (density + density_scale)
    return mean * weight, weight


def mono_aligned_depth(relative: np.ndarray, sparse: np.ndarray, p: MonoAlignedParams = MonoAlignedParams()
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Metric depth from relative inverse depth and sparse metric depth; see the module docstring.

    Args:
        relative: (H, W) relative inverse depth (larger = nearer).
        sparse: (H, W) metres, 0 = none.

    Returns:
        ``(depth (H, W) float32 metres, confidence (H, W) float32)``.
    """
    measured = sparse > 0
    metric = 1.0 / sparse[measured]
    scale, shift = align_scale_shift(relative[measured], metric, p.alignment)
    # A shift fitted on the points can send unmeasured pixels to ~0 or negative disparity
    # (infinite depth): keep them within [half the nearest, twice the farthest] point depth.
    low, high = max(0.5 * float(metric.min()), MIN_DISPARITY), 2.0 * float(metric.max())
    disparity = np.clip(scale * relative + shift, low, high).astype(np.float32)
    aligned = 1.0 / disparity
    log_residual = np.log(np.where(measured, sparse, 1.0) / aligned)
    correction, weight = local_correction(log_residual, measured, p.sigma_px, p.density_scale)
    return (aligned * np.exp(correction)).astype(np.float32), weight.astype(np.float32)


@dataclass
class MonoAligned:
    """A :class:`~depth_completion_ros.pipeline.engine.CompletionMethod` around a teacher."""

    teacher: object  # RelativeDepthTeacher
    params: MonoAlignedParams
    stride: int = 1

    def complete(self, rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel,
                 radar: np.ndarray | None = None) -> DepthResult:
        import torch

        if rgb is None:
            raise BadInputError("rgb", "mono_aligned needs the camera image")
        if np.count_nonzero(sparse > 0) < MIN_POINTS:
            return DepthResult(np.zeros_like(sparse), np.zeros_like(sparse))
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].float() / 255.0
        relative = self.teacher.predict(image)[0, 0].cpu().numpy()
        return DepthResult(*mono_aligned_depth(relative, sparse, self.params))


@register_method("mono_aligned", devices=("cpu", "cuda"), weights="optional",
                 description="monocular relative depth (shipped teacher) scaled by the sparse points")
def _mono_aligned(device: str, weights: Path | None, params: Mapping[str, object]) -> MonoAligned:
    from depth_completion_ros.models.checkpoint import load_model
    from depth_completion_ros.models.teacher import NetworkTeacher, load_external_teacher

    known = {f.name for f in fields(MonoAlignedParams)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadInputError("method_params", f"unknown parameter(s) {unknown}; known: {sorted(known)}")
    p = MonoAlignedParams(**params)
    if p.alignment not in ALIGNMENTS:
        raise BadInputError("alignment", f"'{p.alignment}' is not one of {ALIGNMENTS}")
    if p.teacher:
        return MonoAligned(load_external_teacher(p.teacher, device), p)
    model, _ = load_model(Path(weights) if weights else shipped_weights(SHIPPED_TEACHER), "teacher")
    return MonoAligned(NetworkTeacher(model, device), p)
