"""Classical CPU depth completion methods (OpenCV + numpy, no weights), registered by name.

* ``ip_basic``, ``ip_basic_multiscale``: the published references (:mod:`.ip_basic`);
* ``classical`` (the default): ring-aware interpolation, :func:`classical_fill`.

Every method here returns the same confidence (:func:`completion_confidence`): it falls
with the pixel distance to the nearest measurement and with the local depth discontinuity
of the output. Measured on the real-data protocol, the distance alone ranks pixels *worse*
than chance there (the large relative errors sit at depth edges, which are often close to
a measurement), while the product separates them well; see the benchmark's
``REL conf+/-`` column.

Why ``classical`` differs from IP-Basic: with a 16-beam LiDAR the rings are ~20 px apart
in a KITTI image, too far for IP-Basic's 5-9 px kernels (the fast pipeline leaves ~60 %
of the ground-truth pixels empty). Between two rings, inverse depth varies linearly along
an image column on any plane (road, wall), so the gaps are filled by interpolating inverse
depth between the measurements above and below. Measured on the real-data protocol
(``benchmarks/bench_completion.py``); the optional RGB-edge splits are measured there too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline.engine import DepthResult, register_method
from depth_completion_ros.pipeline.ip_basic import (
    IPBasicParams,
    MultiscaleParams,
    ip_basic_fast,
    ip_basic_multiscale,
)


@dataclass(frozen=True)
class ConfidenceParams:
    """Parameters of :func:`completion_confidence` (method parameters ``confidence_*``).

    Attributes:
        scale_px: pixels; the distance term is ``exp(-distance / scale_px)``.
        window: odd size in pixels of the window the depth discontinuity is measured in.
        relative_range: the discontinuity term is ``exp(-(max - min) / depth / relative_range)``
            over that window.
    """

    scale_px: float = 8.0
    window: int = 15
    relative_range: float = 0.1


def distance_confidence(measured: np.ndarray, scale_px: float = ConfidenceParams.scale_px) -> np.ndarray:
    """Confidence ``exp(-distance / scale_px)``, distance in pixels to the nearest measurement.

    Args:
        measured: (H, W) bool, True where the input had a measurement.

    Returns:
        (H, W) float32 in (0, 1]; 1 on measurements, 0 everywhere if there is none. The
        distance is the city-block one (|dx| + |dy|): twice as fast as the Euclidean one,
        and equal to it along rows and columns, where the gaps between LiDAR rings lie.
    """
    if not measured.any():
        return np.zeros(measured.shape, np.float32)
    distance = cv2.distanceTransform((~measured).astype(np.uint8), cv2.DIST_L1, 3)
    return cv2.exp(distance * np.float32(-1.0 / scale_px))


def completion_confidence(depth: np.ndarray, measured: np.ndarray, p: ConfidenceParams = ConfidenceParams()) -> np.ndarray:
    """Confidence of a completed depth map: distance term times discontinuity term.

    Args:
        depth: (H, W) float32 metres, 0 = no prediction (a hole lowers its neighbours' confidence).
        measured: (H, W) bool, True where the input had a measurement.

    Returns:
        (H, W) float32 in [0, 1].
    """
    kernel = np.ones((p.window, p.window), np.uint8)
    spread = cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)
    relative = spread / np.maximum(depth, np.float32(1e-3))
    return distance_confidence(measured, p.scale_px) * cv2.exp(relative * np.float32(-1.0 / p.relative_range))



@dataclass(frozen=True)
class ClassicalParams:
    """Parameters of :func:`classical_fill`.

    Attributes:
        valid_threshold: metres; depths at or below it are empty.
        row_fill_px: each measurement first spreads this many pixels left and right
            (nearest depth wins), which joins the points of one LiDAR ring into a line.
        split_ratio: two vertical neighbours whose depths differ by more than this fraction
            of the nearer one, with an RGB edge between them, are split at that edge
            instead of interpolated (``inf`` = always interpolate, the measured best).
        edge_threshold: summed |RGB step| between two rows that counts as an edge.
        median_size: median blur aperture (0 = off).
        smooth_size: box filter size applied last (0 = off).
        unsmoothed_ring_gap_px, smoothed_ring_gap_px: the ring lines (step 1) keep their
            unsmoothed values when the frame's median vertical gap between lines is at most
            the first, take the smoothed ones at the second or more, and a linear blend
            between (in inverse depth). Dense input gains: on real KITTI frames with every
            other point of all 64 rings (gap ~6 px) the smoothing cost 24 % RMSE, 38 % MAE;
            with 32 rings or fewer (gap >= 10 px) it helps, and the output is unchanged there.
    """

    valid_threshold: float = 0.1
    row_fill_px: int = 2
    split_ratio: float = math.inf
    edge_threshold: float = 60.0
    median_size: int = 5
    smooth_size: int = 5
    unsmoothed_ring_gap_px: float = 6.0
    smoothed_ring_gap_px: float = 10.0


def _rgb_edges(rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 edge energy at row r: summed |RGB(r) - RGB(r - 1)| (0 on row 0), lightly blurred."""
    image = cv2.GaussianBlur(rgb, (3, 3), 0).astype(np.float32)
    energy = np.zeros(image.shape[:2], np.float32)
    energy[1:] = np.abs(np.diff(image, axis=0)).sum(axis=2)
    return energy


def _split_at_edges(
    inv_above: np.ndarray, inv_below: np.ndarray, above: np.ndarray, below: np.ndarray, edges: np.ndarray,
    p: ClassicalParams,
) -> np.ndarray:
    """Inverse depth for gaps to split (depth jump and an RGB edge between), NaN elsewhere."""
    far, near = np.minimum(inv_above, inv_below), np.maximum(inv_above, inv_below)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = near > far * (1.0 + p.split_ratio)  # (1/far - 1/near) > ratio / near
    strong = np.cumsum(edges > p.edge_threshold, axis=0, dtype=np.int32)
    edges_before = np.take_along_axis(strong, above, 0)
    total = np.take_along_axis(strong, below, 0) - edges_before
    so_far = strong - edges_before
    split = jump & (total > 0)
    return np.where(split, np.where(2 * so_far < total, inv_above, inv_below), np.nan)


def _fill_columns(inv: np.ndarray, edges: np.ndarray | None, p: ClassicalParams) -> np.ndarray:
    """Fill each column from its nearest measurements above and below, in inverse depth.

    Args:
        inv: (H, W) float32 inverse depth (1/m), 0 = empty.
        edges: (H, W) RGB edge energy between row ``r - 1`` and ``r`` (splits enabled), or None.

    Returns:
        (H, W) float32 inverse depth: linear between two measurements, the nearest one's
        value above the first and below the last; columns without any stay 0.
    """
    inv_above, above, inv_below, below = _carry(np.ascontiguousarray(inv, dtype=np.float32))
    rows = np.arange(inv.shape[0], dtype=np.float32)[:, None]
    filled = inv_above + (rows - above) / np.maximum(below - above, np.float32(1)) * (inv_below - inv_above)
    if edges is None or not math.isfinite(p.split_ratio):
        return filled
    split = _split_at_edges(inv_above, inv_below, above.astype(np.intp), below.astype(np.intp), edges, p)
    return np.where(np.isnan(split), filled, split).astype(np.float32)


def _carry(inv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each pixel's nearest measurement above and below in its column.

    Args:
        inv: (H, W) float32 inverse depth, > 0 = a measurement.

    Returns:
        ``(inv_above, row_above, inv_below, row_below)``, (H, W) float32 each: the value and
        row of the last measurement at or above each pixel (before a column's first one:
        that first one) and of the first at or below it (after the last: the last); a
        column without any measurement carries 0 from row 0.
    """
    height, width = inv.shape
    valid = inv > 0
    below = _carry_rows(valid, range(height - 1, -1, -1), np.full(width, height, np.int32))
    first = below[0]  # height in a column without measurements
    above = _carry_rows(valid, range(height), np.where(first < height, first, 0).astype(np.int32))
    np.copyto(below, above, where=below >= height)  # after the last: the last
    flat, offsets = inv.ravel(), np.arange(width, dtype=np.int32)

    def values_at(rows: np.ndarray) -> np.ndarray:
        index = rows * np.int32(width)  # int32: an image has fewer than 2^31 pixels
        index += offsets
        return np.take(flat, index)

    return values_at(above), above.astype(np.float32), values_at(below), below.astype(np.float32)


def _carry_rows(valid: np.ndarray, rows: range, start: np.ndarray) -> np.ndarray:
    """(H, W) int32: for each pixel, the last row of ``rows`` up to its own that holds a
    measurement; ``start`` (W,) before a column's first.

    A loop over rows with whole-row numpy operations: faster here than an accumulate
    along axis 0, and no compiler to import (numba's import and first call cost
    ``dcr complete`` 0.5 s of start-up, more than the 3 ms per frame it saved).
    """
    out = np.empty(valid.shape, np.int32)
    current = start.copy()
    for row in rows:
        np.copyto(current, row, where=valid[row])
        out[row] = current
    return out


def _fill_empty_columns(inv: np.ndarray) -> np.ndarray:
    """Columns with no value take the linear blend of the nearest filled columns left and right."""
    filled_cols = np.flatnonzero((inv > 0).any(axis=0))
    empty_cols = np.flatnonzero(~(inv > 0).any(axis=0))
    if not filled_cols.size or not empty_cols.size:
        return inv
    position = np.searchsorted(filled_cols, empty_cols)
    right = filled_cols[np.minimum(position, filled_cols.size - 1)]
    left = np.where(position > 0, filled_cols[np.maximum(position - 1, 0)], right)
    right = np.where(position < filled_cols.size, right, left)
    weight = np.where(right > left, (empty_cols - left) / np.maximum(right - left, 1), 0.0).astype(np.float32)
    out = inv.copy()
    out[:, empty_cols] = inv[:, left] * (1 - weight) + inv[:, right] * weight
    return out


def classical_fill(sparse: np.ndarray, rgb: np.ndarray | None, p: ClassicalParams = ClassicalParams()) -> np.ndarray:
    """Our default classical completion, for ring-structured LiDAR.

    1. spread each measurement ``row_fill_px`` left and right (nearest wins), so each
       LiDAR ring becomes a continuous line;
    2. fill each column between consecutive measurements linearly in inverse depth (exact
       on planes), extend its top and bottom values to the border; optionally split
       depth jumps at RGB edges instead (``split_ratio``);
    3. columns with no measurement blend their nearest filled neighbours;
    4. median then box smoothing, except on the ring lines of dense input, which keep
       their values (``unsmoothed_ring_gap_px``).

    Args:
        sparse: (H, W) float32 metres, 0 = none.
        rgb: (H, W, 3) uint8, used only for edge splits; None disables them.

    Returns:
        (H, W) float32 metres; 0 everywhere only when there was no measurement.
    """
    sparse = np.asarray(sparse, dtype=np.float32)
    inv = np.divide(np.float32(1), sparse, out=np.zeros_like(sparse), where=sparse > p.valid_threshold)
    if p.row_fill_px:  # the largest inverse depth wins: the nearest surface
        inv = cv2.dilate(inv, _row_kernel(p))
    lines = inv > 0
    unsmoothed_weight = unsmoothed_line_weight(lines, p)
    edges = _rgb_edges(rgb) if rgb is not None and math.isfinite(p.split_ratio) else None
    filled = _fill_empty_columns(_fill_columns(inv, edges, p))
    inv = filled
    if p.median_size:
        inv = cv2.medianBlur(inv, p.median_size)
    if p.smooth_size:  # a box filter keeps inverse depth exact on planes (it is linear there)
        inv = np.where(inv > 0, cv2.blur(inv, (p.smooth_size, p.smooth_size)), np.float32(0))
    if unsmoothed_weight > 0:
        inv = np.where(lines, unsmoothed_weight * filled + (1 - unsmoothed_weight) * inv, inv).astype(np.float32)
    return np.divide(1.0, inv, out=np.zeros_like(inv), where=inv > 0)


def median_line_gap(lines: np.ndarray, column_step: int = 8) -> float:
    """Median vertical gap (px) between consecutive ring lines in a column.

    Args:
        lines: (H, W) bool, the measurements after the row spread (step 1 of :func:`classical_fill`).
        column_step: every this many columns are looked at (a median needs no more).

    Returns:
        Pixels; ``inf`` when no column holds two lines.
    """
    sampled = np.ascontiguousarray(lines[:, ::column_step].T)  # (W', H): one column a row
    starts = sampled.copy()
    starts[:, 1:] &= ~sampled[:, :-1]  # the first pixel of each run of line pixels
    column, row = np.nonzero(starts)  # sorted by column, then row
    same_column = column[1:] == column[:-1]
    if not same_column.any():
        return math.inf
    return float(np.median(np.diff(row)[same_column]))


def _row_kernel(p: ClassicalParams) -> np.ndarray:
    """The row spread of step 1: ``row_fill_px`` left and right."""
    return np.ones((1, 2 * p.row_fill_px + 1), np.uint8)


def ring_lines(sparse: np.ndarray, p: ClassicalParams = ClassicalParams()) -> np.ndarray:
    """(H, W) bool: the pixels step 1 of :func:`classical_fill` gives a measured value
    (each measurement of ``sparse`` (H, W) metres spread ``row_fill_px`` left and right)."""
    measured = (np.asarray(sparse) > p.valid_threshold).astype(np.uint8)
    return (cv2.dilate(measured, _row_kernel(p)) if p.row_fill_px else measured) > 0


def unsmoothed_line_weight(lines: np.ndarray, p: ClassicalParams = ClassicalParams()) -> float:
    """Weight in [0, 1] of the unsmoothed values on the ring ``lines`` ((H, W) bool, from
    :func:`ring_lines`): 1 for dense rings, 0 for sparse ones (``unsmoothed_ring_gap_px``)."""
    gap_px = median_line_gap(lines)
    if gap_px <= p.unsmoothed_ring_gap_px:
        return 1.0
    if gap_px >= p.smoothed_ring_gap_px:
        return 0.0
    return (p.smoothed_ring_gap_px - gap_px) / (p.smoothed_ring_gap_px - p.unsmoothed_ring_gap_px)


def _params(cls: type, params: Mapping[str, object]):
    """Build a parameter dataclass, naming unknown keys in the error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadInputError("method_params", f"unknown parameter(s) {unknown}; known: {sorted(known)}")
    return cls(**params)


@dataclass
class ClassicalCompletion:
    """A :class:`~depth_completion_ros.pipeline.engine.CompletionMethod` around a fill function."""

    fill: Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (sparse, rgb) -> depth
    confidence: ConfidenceParams | None = ConfidenceParams()  # None: not computed (all zeros)
    stride: int = 1

    def complete(
        self, rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel, radar: np.ndarray | None = None
    ) -> DepthResult:
        depth = self.fill(sparse, rgb)
        if self.confidence is None:
            return DepthResult(depth, np.zeros_like(depth))
        return DepthResult(depth, completion_confidence(depth, sparse > 0, self.confidence))


def _split_confidence(params: Mapping[str, object]) -> tuple[dict[str, object], ConfidenceParams | None]:
    """Separate the ``confidence_*`` method parameters (and ``confidence: false``, which
    turns it off) from the fill's own."""
    prefix = "confidence_"
    confidence = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
    fill = {k: v for k, v in params.items() if not k.startswith(prefix) and k != "confidence"}
    return fill, _params(ConfidenceParams, confidence) if params.get("confidence", True) else None


@register_method("ip_basic", needs_rgb=False, confidence_optional=True,
                 description="Ku et al. 2018 fast pipeline, published defaults (reference)")
def _ip_basic(device: str, weights: Path | None, params: Mapping[str, object]) -> ClassicalCompletion:
    params, scale = _split_confidence(params)
    p = _params(IPBasicParams, params)
    return ClassicalCompletion(lambda sparse, rgb: ip_basic_fast(sparse, p), scale)


@register_method("ip_basic_multiscale", needs_rgb=False, confidence_optional=True,
                 description="Ku et al. 2018 multi-scale pipeline, published defaults")
def _ip_basic_multiscale(device: str, weights: Path | None, params: Mapping[str, object]) -> ClassicalCompletion:
    params, scale = _split_confidence(params)
    p = _params(MultiscaleParams, params)
    return ClassicalCompletion(lambda sparse, rgb: ip_basic_multiscale(sparse, p), scale)


@register_method("classical", needs_rgb=False, confidence_optional=True,  # rgb: only for split_ratio (off)
                 description="ring-aware inverse-depth interpolation (default, no weights)")
def _classical(device: str, weights: Path | None, params: Mapping[str, object]) -> ClassicalCompletion:
    params, scale = _split_confidence(params)
    p = _params(ClassicalParams, params)
    return ClassicalCompletion(lambda sparse, rgb: classical_fill(sparse, rgb, p), scale)
