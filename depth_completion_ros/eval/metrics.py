"""KITTI depth-completion metrics, per image then averaged, overall, by range and capped.

Definitions (KITTI depth-completion benchmark units):

* ``rmse_mm``, ``mae_mm``: root-mean-square / mean absolute depth error in millimetres;
* ``irmse_1km``, ``imae_1km``: the same on inverse depth, in 1/km (``1000 / d[m]``);
* ``rel``: mean of ``|pred - gt| / gt``;
* ``delta1..3``: fraction of pixels with ``max(pred/gt, gt/pred) < 1.25 ** k``.

Which pixels count:

* a pixel is scored when its ground truth is finite and inside the group's range
  ``lower < gt <= upper`` (metres) *and* the prediction there is finite and > 0;
* ``coverage`` is the fraction of in-range ground-truth pixels that had a valid prediction.
  A prediction with holes is not scored on them, so always read the errors beside the
  coverage (a dense method has coverage 1). To compare methods, score them all on the
  pixels every one of them predicts (:func:`ground_truth_on_common_pixels`): otherwise a
  method that leaves the hardest pixels empty (IP-Basic above its dilated top LiDAR points) gets
  errors from easier pixels than a dense one.

What happens to an image without scored pixels (all-invalid ground truth, nothing in the
range, or no valid prediction where there is ground truth): it is *excluded* from that
group's averages and *counted* (``images_without_gt`` / ``images_without_prediction``).
A group with no scored image reports NaN for every metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

METRIC_NAMES = ("rmse_mm", "mae_mm", "irmse_1km", "imae_1km", "rel", "delta1", "delta2", "delta3")
DEFAULT_RANGE_BUCKETS: tuple[tuple[float, float], ...] = ((0.0, 20.0), (20.0, 40.0), (40.0, 80.0))
DEFAULT_CAPS: tuple[float, ...] = (50.0, 70.0, 80.0)  # nuScenes-style: 0 < d <= cap


@dataclass(frozen=True)
class DepthRange:
    """A group of ground-truth pixels: ``lower < gt <= upper`` metres."""

    name: str
    lower: float = 0.0
    upper: float = math.inf


@dataclass(frozen=True)
class ImageMetrics:
    """Metrics of one image in one range.

    Attributes:
        values: metric name -> value; empty when the image has no scored pixel.
        gt_pixels: ground-truth pixels in the range.
        scored_pixels: of those, pixels with a valid prediction.
    """

    values: dict[str, float]
    gt_pixels: int
    scored_pixels: int

    @property
    def coverage(self) -> float:
        return self.scored_pixels / self.gt_pixels if self.gt_pixels else math.nan

    def to_dict(self) -> dict:
        """JSON-ready: NaN becomes None."""
        return {
            **self.values,
            "coverage": _json_number(self.coverage),
            "gt_pixels": self.gt_pixels,
            "scored_pixels": self.scored_pixels,
        }


def _valid_depth(depth: np.ndarray) -> np.ndarray:
    return np.isfinite(depth) & (depth > 0)


def image_metrics(pred: np.ndarray, gt: np.ndarray, depth_range: DepthRange = DepthRange("all")) -> ImageMetrics:
    """Metrics of one predicted depth image against its ground truth.

    Args:
        pred: (H, W) predicted depth in metres; 0, NaN, Inf and negatives are "no prediction".
        gt: (H, W) ground-truth depth in metres; 0, NaN, Inf and negatives are "no ground truth".
        depth_range: the ground-truth depths that count.

    Returns:
        The metrics (empty ``values`` when no pixel could be scored).
    """
    if pred.shape != gt.shape:
        raise ValueError(f"prediction is {pred.shape}, ground truth is {gt.shape}")
    gt = gt.astype(np.float64)
    in_range = _valid_depth(gt) & (gt > depth_range.lower) & (gt <= depth_range.upper)
    scored = in_range & _valid_depth(pred)
    gt_pixels, scored_pixels = int(in_range.sum()), int(scored.sum())
    if scored_pixels == 0:
        return ImageMetrics({}, gt_pixels, 0)
    p, g = pred[scored].astype(np.float64), gt[scored]
    error_mm = (p - g) * 1000.0
    inverse_error_1km = 1000.0 / p - 1000.0 / g
    ratio = np.maximum(p / g, g / p)
    values = {
        "rmse_mm": float(np.sqrt(np.mean(error_mm**2))),
        "mae_mm": float(np.mean(np.abs(error_mm))),
        "irmse_1km": float(np.sqrt(np.mean(inverse_error_1km**2))),
        "imae_1km": float(np.mean(np.abs(inverse_error_1km))),
        "rel": float(np.mean(np.abs(p - g) / g)),
    }
    for k in (1, 2, 3):
        values[f"delta{k}"] = float(np.mean(ratio < 1.25**k))
    return ImageMetrics(values, gt_pixels, scored_pixels)


def ground_truth_on_common_pixels(gt: np.ndarray, predictions: Sequence[np.ndarray]) -> np.ndarray:
    """The ground truth where every prediction has a valid depth, "no ground truth" (0) elsewhere.

    Args:
        gt: (H, W) ground-truth depth in metres.
        predictions: (H, W) predicted depths in metres of the methods being compared.

    Returns:
        (H, W) float32 copy of ``gt`` with 0 wherever any prediction is 0, NaN, Inf or negative.
    """
    common = np.ones(gt.shape, bool)
    for pred in predictions:
        if pred.shape != gt.shape:
            raise ValueError(f"prediction is {pred.shape}, ground truth is {gt.shape}")
        common &= _valid_depth(pred)
    return np.where(common, gt, 0.0).astype(np.float32)


def default_ranges(
    buckets: Sequence[tuple[float, float]] = DEFAULT_RANGE_BUCKETS, caps: Sequence[float] = DEFAULT_CAPS
) -> list[DepthRange]:
    """``all``, then one range per bucket (``lower < d <= upper``), then one per cap (``0 < d <= cap``)."""
    ranges = [DepthRange("all")]
    ranges += [DepthRange(f"{lower:g}-{upper:g}m", lower, upper) for lower, upper in buckets]
    ranges += [DepthRange(f"cap{cap:g}m", 0.0, cap) for cap in caps]
    return ranges


@dataclass
class GroupSummary:
    """Averages of one range over the images that had scored pixels there.

    Attributes:
        values: metric name -> mean over scored images (NaN when there is none).
        images: images averaged.
        images_without_gt: images excluded because no ground truth fell in the range.
        images_without_prediction: images excluded because no prediction was valid where
            there was ground truth.
        coverage: mean coverage over the images with ground truth in the range.
        scored_pixels: pixels scored over all images.
    """

    name: str
    values: dict[str, float]
    images: int
    images_without_gt: int
    images_without_prediction: int
    coverage: float
    scored_pixels: int

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            **{name: _json_number(self.values[name]) for name in METRIC_NAMES},
            "images": self.images,
            "images_without_gt": self.images_without_gt,
            "images_without_prediction": self.images_without_prediction,
            "coverage": _json_number(self.coverage),
            "scored_pixels": self.scored_pixels,
        }


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


@dataclass
class MetricAccumulator:
    """Collects per-image metrics for several ranges and averages them.

    Example:
        >>> acc = MetricAccumulator()
        >>> acc.add(pred, gt)            # once per image
        >>> table = format_table(acc.summaries())
    """

    ranges: list[DepthRange] = field(default_factory=default_ranges)
    per_image: dict[str, list[ImageMetrics]] = field(default_factory=dict)

    def add(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, ImageMetrics]:
        """Score one image in every range; returns range name -> its metrics."""
        result = {r.name: image_metrics(pred, gt, r) for r in self.ranges}
        for name, metrics in result.items():
            self.per_image.setdefault(name, []).append(metrics)
        return result

    def summaries(self) -> list[GroupSummary]:
        return [summarize(r.name, self.per_image.get(r.name, [])) for r in self.ranges]


def summarize(name: str, images: Sequence[ImageMetrics]) -> GroupSummary:
    """Average per-image metrics, excluding (and counting) images without scored pixels."""
    scored = [m for m in images if m.values]
    with_gt = [m for m in images if m.gt_pixels]
    values = {
        metric: float(np.mean([m.values[metric] for m in scored])) if scored else math.nan for metric in METRIC_NAMES
    }
    return GroupSummary(
        name=name,
        values=values,
        images=len(scored),
        images_without_gt=len(images) - len(with_gt),
        images_without_prediction=len(with_gt) - len(scored),
        coverage=float(np.mean([m.coverage for m in with_gt])) if with_gt else math.nan,
        scored_pixels=sum(m.scored_pixels for m in images),
    )


def format_table(summaries: Sequence[GroupSummary]) -> str:
    """A fixed-width text table, one row per range."""
    header = f"{'range':>10} {'RMSE mm':>9} {'MAE mm':>8} {'iRMSE':>7} {'iMAE':>7} {'REL':>6} "
    header += f"{'d<1.25':>7} {'d<1.25^2':>8} {'d<1.25^3':>8} {'cover':>6} {'images':>6} {'excluded':>8}"
    rows = [header]
    for s in summaries:
        v = s.values
        rows.append(
            f"{s.name:>10} {v['rmse_mm']:9.1f} {v['mae_mm']:8.1f} {v['irmse_1km']:7.2f} {v['imae_1km']:7.2f} "
            f"{v['rel']:6.3f} {v['delta1']:7.4f} {v['delta2']:8.4f} {v['delta3']:8.4f} {s.coverage:6.3f} "
            f"{s.images:6d} {s.images_without_gt + s.images_without_prediction:8d}"
        )
    rows.append("iRMSE/iMAE in 1/km; 'excluded' = images with no scored pixel in that range (not averaged).")
    return "\n".join(rows)
