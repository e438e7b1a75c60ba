"""KITTI depth metrics against values computed by hand."""

import math

import numpy as np
import pytest

from depth_completion_ros.eval.metrics import (
    DepthRange,
    MetricAccumulator,
    default_ranges,
    format_table,
    ground_truth_on_common_pixels,
    image_metrics,
    summarize,
)


def _image(values: dict[tuple[int, int], float], shape=(3, 4)) -> np.ndarray:
    depth = np.zeros(shape, np.float32)
    for (row, col), value in values.items():
        depth[row, col] = value
    return depth


def test_single_pixel_image_by_hand():
    gt = _image({(1, 2): 10.0})
    pred = np.full(gt.shape, 12.0, np.float32)  # only the GT pixel is scored
    m = image_metrics(pred, gt)
    assert m.gt_pixels == 1 and m.scored_pixels == 1 and m.coverage == 1.0
    assert m.values["rmse_mm"] == pytest.approx(2000.0)
    assert m.values["mae_mm"] == pytest.approx(2000.0)
    assert m.values["irmse_1km"] == pytest.approx(100.0 - 1000.0 / 12.0)
    assert m.values["imae_1km"] == pytest.approx(100.0 - 1000.0 / 12.0)
    assert m.values["rel"] == pytest.approx(0.2)
    assert m.values["delta1"] == 1.0  # ratio 1.2 < 1.25


def test_two_pixel_image_by_hand():
    gt = _image({(0, 0): 10.0, (2, 3): 20.0})
    pred = _image({(0, 0): 10.0, (2, 3): 40.0})
    v = image_metrics(pred, gt).values
    assert v["rmse_mm"] == pytest.approx(math.sqrt(20000.0**2 / 2))
    assert v["mae_mm"] == pytest.approx(10000.0)
    assert v["irmse_1km"] == pytest.approx(math.sqrt(25.0**2 / 2))  # 1000/40 - 1000/20 = -25
    assert v["imae_1km"] == pytest.approx(12.5)
    assert v["rel"] == pytest.approx(0.5)
    # ratio 2 fails 1.25, 1.5625 and 1.953125
    assert (v["delta1"], v["delta2"], v["delta3"]) == (0.5, 0.5, 0.5)


def test_invalid_prediction_lowers_coverage_and_is_not_scored():
    gt = _image({(0, 0): 10.0, (0, 1): 10.0, (0, 2): 10.0, (0, 3): 10.0})
    pred = _image({(0, 0): 11.0, (0, 1): np.nan, (0, 2): np.inf, (0, 3): 0.0})
    m = image_metrics(pred, gt)
    assert m.coverage == 0.25
    assert m.values["mae_mm"] == pytest.approx(1000.0)


def test_methods_compared_on_common_pixels_lose_the_pixels_a_method_left_empty():
    gt = _image({(0, 0): 10.0, (0, 1): 20.0, (0, 2): 30.0})
    dense = _image({(0, 0): 11.0, (0, 1): 20.0, (0, 2): 60.0, (1, 1): 5.0})
    with_holes = _image({(0, 0): 10.0, (0, 1): 22.0, (0, 2): np.nan})
    common = ground_truth_on_common_pixels(gt, [dense, with_holes])
    np.testing.assert_array_equal(common, _image({(0, 0): 10.0, (0, 1): 20.0}))
    # the 30 m error the dense method makes where the other has no prediction no longer counts
    assert image_metrics(dense, gt).values["mae_mm"] == pytest.approx(31000.0 / 3)
    assert image_metrics(dense, common).values["mae_mm"] == pytest.approx(500.0)
    assert image_metrics(with_holes, common).values["mae_mm"] == pytest.approx(1000.0)
    with pytest.raises(ValueError):
        ground_truth_on_common_pixels(gt, [np.zeros((2, 2), np.float32)])


def test_nan_and_inf_ground_truth_are_no_ground_truth():
    gt = _image({(0, 0): np.nan, (0, 1): np.inf, (0, 2): 5.0})
    pred = np.full(gt.shape, 5.5, np.float32)
    m = image_metrics(pred, gt)
    assert m.gt_pixels == 1 and m.values["mae_mm"] == pytest.approx(500.0)


def test_images_are_averaged_not_pixels():
    acc = MetricAccumulator(ranges=[DepthRange("all")])
    acc.add(np.full((1, 1), 12.0, np.float32), np.full((1, 1), 10.0, np.float32))  # rmse 2000 on 1 px
    gt = np.full((1, 4), 10.0, np.float32)
    acc.add(gt.copy(), gt)  # rmse 0 on 4 px
    (summary,) = acc.summaries()
    assert summary.values["rmse_mm"] == pytest.approx(1000.0)  # pooled pixels: sqrt(2000^2 / 5) = 894
    assert summary.values["mae_mm"] == pytest.approx(1000.0)  # pooled pixels: 400
    assert summary.images == 2 and summary.scored_pixels == 5


def test_all_invalid_image_is_excluded_and_counted():
    acc = MetricAccumulator(ranges=[DepthRange("all")])
    acc.add(np.full((2, 2), 12.0, np.float32), _image({(0, 0): 10.0}, (2, 2)))
    acc.add(np.full((2, 2), 12.0, np.float32), np.zeros((2, 2), np.float32))  # no GT at all
    acc.add(np.full((2, 2), np.nan, np.float32), _image({(0, 0): 10.0}, (2, 2)))  # no prediction
    (summary,) = acc.summaries()
    assert summary.images == 1
    assert summary.images_without_gt == 1
    assert summary.images_without_prediction == 1
    assert summary.values["rmse_mm"] == pytest.approx(2000.0)
    assert summary.coverage == pytest.approx(0.5)  # images with GT: coverage 1 and 0


def test_group_without_any_scored_image_is_nan():
    summary = summarize("empty", [image_metrics(np.zeros((2, 2)), np.zeros((2, 2)))])
    assert summary.images == 0 and summary.images_without_gt == 1
    assert all(math.isnan(v) for v in summary.values.values())
    assert summary.to_dict()["rmse_mm"] is None  # JSON has no NaN


def test_range_buckets_and_caps_select_by_ground_truth():
    gt = _image({(0, 0): 10.0, (0, 1): 20.0, (0, 2): 30.0, (0, 3): 60.0, (1, 0): 75.0, (1, 1): 90.0})
    pred = np.where(gt > 0, gt + 1.0, 0).astype(np.float32)
    acc = MetricAccumulator(ranges=default_ranges())
    result = acc.add(pred, gt)
    # lower < d <= upper: 20 m belongs to 0-20, 90 m to no bucket but to "all"
    assert {name: m.gt_pixels for name, m in result.items()} == {
        "all": 6, "0-20m": 2, "20-40m": 1, "40-80m": 2, "cap50m": 3, "cap70m": 4, "cap80m": 5,
    }
    assert result["20-40m"].values["mae_mm"] == pytest.approx(1000.0)
    assert result["40-80m"].values["rel"] == pytest.approx((1 / 60 + 1 / 75) / 2)
    table = format_table(acc.summaries())
    assert "0-20m" in table and "cap80m" in table


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="ground truth"):
        image_metrics(np.zeros((2, 3)), np.zeros((3, 2)))

