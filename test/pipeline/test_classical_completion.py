"""Our classical completion: exact on planes, fills every pixel, confidence, optional edge splits."""

import math

import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.classical import (
    ClassicalParams,
    _carry,
    _fill_columns,
    classical_fill,
    distance_confidence,
    median_line_gap,
)
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.geometry.camera import CameraModel

NO_SMOOTHING = ClassicalParams(median_size=0, smooth_size=0)


def _ground_plane(height=80, width=50, fy=100.0, cy=10.0, camera_height=1.5) -> np.ndarray:
    """Depth of a flat ground 1.5 m below a level camera: z = h fy / (v - cy) below the horizon."""
    v = np.arange(height, dtype=np.float64)[:, None]
    depth = np.where(v > cy + 0.5, camera_height * fy / np.maximum(v - cy, 1e-9), 0.0)
    return np.broadcast_to(depth, (height, width)).astype(np.float32)


def test_ground_plane_is_reconstructed_exactly_between_rings():
    truth = _ground_plane()
    sparse = np.zeros_like(truth)
    sparse[16::8] = truth[16::8]  # one "ring" every 8 rows
    out = classical_fill(sparse, None, NO_SMOOTHING)
    np.testing.assert_allclose(out[16:73], truth[16:73], rtol=1e-5)
    assert np.all(out > 0)  # extended to the borders


def test_default_smoothing_stays_close_on_a_plane():
    truth = _ground_plane()
    sparse = np.zeros_like(truth)
    sparse[16::8, ::2] = truth[16::8, ::2]
    out = classical_fill(sparse, None)
    assert np.max(np.abs(out[20:70, 3:-3] - truth[20:70, 3:-3]) / truth[20:70, 3:-3]) < 0.01


def _rings_with_a_step(ring_gap: int, height: int = 120, width: int = 64) -> np.ndarray:
    """Rings every ``ring_gap`` rows; each ring alternates 10 m and 20 m every 8 columns
    (an object's edges), every other pixel measured."""
    sparse = np.zeros((height, width), np.float32)
    values = np.where((np.arange(width) // 8) % 2 == 0, 10.0, 20.0).astype(np.float32)
    sparse[4::ring_gap, ::2] = values[::2]
    return sparse


@pytest.mark.parametrize("ring_gap", [3, 5, 11, 20])
def test_median_line_gap_is_the_ring_spacing(ring_gap):
    sparse = _rings_with_a_step(ring_gap)
    assert median_line_gap(sparse > 0) == ring_gap
    assert median_line_gap(np.zeros((30, 40), bool)) == math.inf


def test_dense_rings_keep_their_unsmoothed_values_and_sparse_rings_are_smoothed_as_before():
    never_unsmoothed = ClassicalParams(unsmoothed_ring_gap_px=0, smoothed_ring_gap_px=0)

    def ring_values(sparse: np.ndarray, params: ClassicalParams) -> np.ndarray:
        return classical_fill(sparse, None, params)[np.any(sparse > 0, axis=1)]

    dense = _rings_with_a_step(5)  # gap <= unsmoothed_ring_gap_px: the rings keep the row-spread values
    np.testing.assert_allclose(ring_values(dense, ClassicalParams()), ring_values(dense, NO_SMOOTHING), rtol=1e-6)
    assert not np.allclose(ring_values(dense, never_unsmoothed), ring_values(dense, NO_SMOOTHING), rtol=1e-3)
    sparse = _rings_with_a_step(12)  # gap >= smoothed_ring_gap_px: exactly the smoothed output
    np.testing.assert_array_equal(classical_fill(sparse, None), classical_fill(sparse, None, never_unsmoothed))
    middle = _rings_with_a_step(8)  # in between: each ring value lies between the two
    unsmoothed, smoothed = ring_values(middle, NO_SMOOTHING), ring_values(middle, never_unsmoothed)
    blended = ring_values(middle, ClassicalParams())
    assert np.all((blended - unsmoothed) * (blended - smoothed) <= 1e-4)
    assert not np.allclose(blended, smoothed) and not np.allclose(blended, unsmoothed)


def test_empty_columns_blend_their_neighbours_in_inverse_depth():
    sparse = np.zeros((10, 40), np.float32)
    sparse[:, :10] = 10.0
    sparse[:, 30:] = 20.0
    out = classical_fill(sparse, None, ClassicalParams(row_fill_px=0, median_size=0, smooth_size=0))
    w = (20 - 9) / (30 - 9)
    assert out[5, 20] == pytest.approx(1 / ((1 - w) / 10.0 + w / 20.0), rel=1e-5)


def test_no_measurement_gives_no_depth():
    assert not classical_fill(np.zeros((20, 30), np.float32), None).any()


def test_edge_split_puts_the_depth_jump_at_the_rgb_edge():
    sparse = np.zeros((21, 8), np.float32)
    sparse[0], sparse[20] = 5.0, 50.0
    rgb = np.zeros((21, 8, 3), np.uint8)
    rgb[15:] = 200  # the object boundary is between rows 14 and 15
    split = classical_fill(sparse, rgb, ClassicalParams(split_ratio=0.5, row_fill_px=0, median_size=0, smooth_size=0))
    np.testing.assert_allclose(split[:15, 4], 5.0)
    np.testing.assert_allclose(split[15:, 4], 50.0)
    interpolated = classical_fill(sparse, rgb, NO_SMOOTHING)  # default split_ratio = inf
    assert 5.0 < interpolated[10, 4] < 50.0


def test_confidence_falls_with_distance_to_the_nearest_measurement():
    measured = np.zeros((11, 11), bool)
    measured[5, 5] = True
    confidence = distance_confidence(measured, scale_px=8.0)
    assert confidence[5, 5] == 1.0
    assert confidence[5, 9] == pytest.approx(math.exp(-4 / 8), rel=1e-4)
    assert confidence[0, 0] < confidence[5, 9]
    assert not distance_confidence(np.zeros((4, 4), bool)).any()


def test_method_parameters_come_from_config_and_unknown_ones_are_named():
    camera = CameraModel.from_intrinsics(50, 50, 10, 10, 20, 20)
    sparse = np.zeros((20, 20), np.float32)
    sparse[10, 10] = 4.0
    engine = CompletionEngine("classical", method_params={"confidence_scale_px": 2.0, "median_size": 0})
    result = engine.complete(None, sparse, camera)
    assert result.confidence[10, 12] == pytest.approx(math.exp(-1.0), rel=1e-4)
    with pytest.raises(BadInputError, match="kernel_size"):
        CompletionEngine("classical", method_params={"kernel_size": 3})


def test_confidence_drops_at_depth_discontinuities():
    from depth_completion_ros.pipeline.classical import completion_confidence

    depth = np.full((30, 60), 10.0, np.float32)
    depth[:, 30:] = 40.0
    measured = np.zeros_like(depth, dtype=bool)
    measured[15, ::2] = True  # same distance pattern everywhere along row 15
    confidence = completion_confidence(depth, measured)
    assert confidence[15, 30] < 0.1 * confidence[15, 10]  # at the 10 m | 40 m edge
    assert confidence[15, 10] == pytest.approx(1.0) and confidence[15, 50] == pytest.approx(1.0)


def _nearest_rows(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: each pixel's row of the last measurement at or above and the first at or
    below (the column's first / last beyond them; row 0 in an empty column)."""
    height = valid.shape[0]
    rows = np.arange(height)[:, None]
    above = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    below = np.minimum.accumulate(np.where(valid, rows, height)[::-1], axis=0)[::-1]
    any_valid = valid.any(axis=0)
    first = np.where(any_valid, np.argmax(valid, axis=0), 0)
    last = np.where(any_valid, height - 1 - np.argmax(valid[::-1], axis=0), 0)
    return np.where(above < 0, first, above), np.where(below >= height, last, below)


@pytest.mark.parametrize("seed", range(6))
def test_column_fill_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(1, 50)), int(rng.integers(1, 70))
    inv = np.where(rng.random((height, width)) < rng.uniform(0, 0.3), rng.uniform(0.01, 1, (height, width)),
                   0).astype(np.float32)
    above, below = _nearest_rows(inv > 0)
    inv_above, row_above, inv_below, row_below = _carry(inv)
    assert np.array_equal(row_above, above) and np.array_equal(row_below, below)
    assert np.array_equal(inv_above, np.take_along_axis(inv, above, 0))
    assert np.array_equal(inv_below, np.take_along_axis(inv, below, 0))
    rows = np.arange(height, dtype=np.float32)[:, None]
    blend = inv_above + (rows - row_above) / np.maximum(row_below - row_above, 1) * (inv_below - inv_above)
    assert np.array_equal(_fill_columns(inv, None, ClassicalParams()), blend)


def test_confidence_false_skips_the_confidence_and_keeps_the_depth():
    camera = CameraModel.from_intrinsics(50, 50, 20, 12, 40, 24)
    rng = np.random.default_rng(3)
    sparse = np.where(rng.random((24, 40)) < 0.2, rng.uniform(2, 60, (24, 40)), 0).astype(np.float32)
    full = CompletionEngine("classical").complete(None, sparse, camera)
    bare = CompletionEngine("classical", method_params={"confidence": False}).complete(None, sparse, camera)
    assert np.array_equal(bare.depth, full.depth) and full.confidence.max() > 0 and not bare.confidence.any()
