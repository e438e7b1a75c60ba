"""Training losses for depth completion and relative depth.

All functions take (B, 1, H, W) tensors and a boolean (B, 1, H, W) ``mask`` of the pixels
that count, and return a scalar tensor. A masked mean over no pixel is 0 (not NaN), so a
batch without supervision contributes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-6


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``mask`` (all images pooled); 0 when the mask is empty."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the mask."""
    return masked_mean((prediction - target).abs(), mask)


def masked_l2(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the mask."""
    return masked_mean((prediction - target) ** 2, mask)


def depth_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, l1_weight: float = 1.0
               ) -> torch.Tensor:
    """``l1_weight`` L1 + L2 on metric (or scale-normalized) depth (0: pure L2, what RMSE measures)."""
    return l1_weight * masked_l1(prediction, target, mask) + masked_l2(prediction, target, mask)


def multiscale_smooth_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                         scales: int = 3) -> torch.Tensor:
    """Smooth-L1 (beta 1) at full, 1/2, 1/4 ... resolution, averaged over the scales.

    At scale k both maps are averaged over 2^k x 2^k blocks *over the masked pixels only*
    (a sparse target stays a mean of real measurements, and the prediction is averaged on
    the same pixels); a block counts when it holds at least one masked pixel.
    """
    total = prediction.new_zeros(())
    weights = mask.to(prediction.dtype)
    for k in range(scales):
        if k:
            size = 2**k
            # ceil_mode: a partial block at the border counts too (the divisors cancel in the ratios)
            count = F.avg_pool2d(weights, size, ceil_mode=True)
            block = count > 0
            mean_prediction = F.avg_pool2d(prediction * weights, size, ceil_mode=True) / count.clamp_min(EPS)
            mean_target = F.avg_pool2d(target * weights, size, ceil_mode=True) / count.clamp_min(EPS)
        else:
            block, mean_prediction, mean_target = mask, prediction, target
        total = total + masked_mean(F.smooth_l1_loss(mean_prediction, mean_target, reduction="none"), block)
    return total / scales


def gradient_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, scales: int = 4) -> torch.Tensor:
    """Multi-scale gradient matching: mean |d/dx R| + |d/dy R| of R = prediction - target.

    At scale k the residual and mask are subsampled by 2^k (every 2^k-th pixel, as MiDaS
    does); a difference counts only where both of its pixels are in the mask. The result
    is the mean over the scales.
    """
    total = prediction.new_zeros(())
    for k in range(scales):
        step = 2**k
        residual = (prediction - target)[..., ::step, ::step]
        valid = mask[..., ::step, ::step]
        grad_x = (residual[..., :, 1:] - residual[..., :, :-1]).abs()
        grad_y = (residual[..., 1:, :] - residual[..., :-1, :]).abs()
        mask_x = valid[..., :, 1:] & valid[..., :, :-1]
        mask_y = valid[..., 1:, :] & valid[..., :-1, :]
        count = mask_x.sum() + mask_y.sum()
        total = total + ((grad_x * mask_x).sum() + (grad_y * mask_y).sum()) / count.clamp_min(1)
    return total / scales


def fit_scale_shift(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image closed-form least squares ``min_{s,t} sum_mask (s p + t - y)^2``.

    Returns:
        ``(s, t)``, each (B, 1, 1, 1): ``s = cov(p, y) / var(p)``, ``t = mean y - s mean p``
        over the mask. An image whose masked predictions are (numerically) constant gets
        s = 0 and t = the masked mean of the target.
    """
    w = mask.to(prediction.dtype)
    n = w.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
    mean_p = (w * prediction).sum(dim=(1, 2, 3), keepdim=True) / n
    mean_y = (w * target).sum(dim=(1, 2, 3), keepdim=True) / n
    centred_p = (prediction - mean_p) * w  # centring first avoids cancellation for p = a u + b, b >> a
    variance = (centred_p * centred_p).sum(dim=(1, 2, 3), keepdim=True) / n
    covariance = (centred_p * (target - mean_y)).sum(dim=(1, 2, 3), keepdim=True) / n
    magnitude = (w * prediction * prediction).sum(dim=(1, 2, 3), keepdim=True) / n
    degenerate = variance <= torch.finfo(prediction.dtype).eps * magnitude
    safe = torch.where(degenerate, torch.ones_like(variance), variance)
    scale = torch.where(degenerate, torch.zeros_like(variance), covariance / safe)
    shift = mean_y - scale * mean_p
    return scale, shift


def ssi_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scale- and shift-invariant loss (DMD3C stage 2): masked L1 of ``s p + t - y``.

    ``(s, t)`` is :func:`fit_scale_shift` per image. Pass disparities (inverse depths):
    relative-depth models are affine-invariant in disparity space. Invariant, exactly up
    to rounding, to ``p -> a p + b`` for any a != 0 and b.
    """
    scale, shift = fit_scale_shift(prediction, target, mask)
    return masked_l1(scale * prediction + shift, target, mask)


def _median_mad_normalize(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image: ``(v - median) / mean |v - median|`` over the mask (MiDaS robust alignment)."""
    normalized = []
    for image, valid in zip(values, mask):
        selected = image[valid]
        if selected.numel() == 0:
            normalized.append(torch.zeros_like(image))
            continue
        median = selected.median()
        spread = (selected - median).abs().mean().clamp_min(EPS)
        normalized.append((image - median) / spread)
    return torch.stack(normalized)


def robust_ssi_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Robust SSI: median/MAD-normalize prediction and target per image, then masked L1.

    Invariant to ``p -> a p + b`` for any a > 0 and b (the MAD absorbs |a|).
    """
    return masked_l1(_median_mad_normalize(prediction, mask), _median_mad_normalize(target, mask), mask)


def disparity(depth: torch.Tensor) -> torch.Tensor:
    """Inverse depth, 0 where depth <= 0."""
    return torch.where(depth > 0, 1.0 / depth.clamp_min(EPS), torch.zeros_like(depth))


def confidence_loss(confidence: torch.Tensor, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                    relative_tolerance: float = 0.05) -> torch.Tensor:
    """Binary cross-entropy of the confidence against ``exp(-|e| / (tolerance * target))``.

    The error ``e`` is detached: the confidence learns to predict the error, not to move it.
    """
    error = (prediction.detach() - target).abs() / (relative_tolerance * target.abs()).clamp_min(EPS)
    goal = torch.exp(-error)
    bce = F.binary_cross_entropy(confidence.clamp(EPS, 1 - EPS), goal, reduction="none")
    return masked_mean(bce, mask)
