import numpy as np
import pytest

from depth_completion_ros.datasets.semantic_kitti import (
    SSCMetrics,
    pack_bits,
    read_bits,
    read_labels,
    unpack_bits,
    write_bits,
    write_labels,
)
from depth_completion_ros.errors import BadInputError


def test_bits_round_trip_and_use_semantic_kitti_bit_order(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.random((256, 256, 32)) < 0.1
    write_bits(tmp_path / "000000.bin", mask)
    assert (tmp_path / "000000.bin").stat().st_size == 256 * 256 * 32 // 8
    np.testing.assert_array_equal(read_bits(tmp_path / "000000.bin"), mask)
    # the SemanticKITTI API unpacks with np.unpackbits: voxel (0, 0, 0) is the top bit of byte 0
    first = np.zeros((2, 2, 2), bool)
    first[0, 0, 0] = True
    assert pack_bits(first).tolist() == [0b10000000]
    np.testing.assert_array_equal(unpack_bits(np.array([0b00000001], np.uint8), (2, 2, 2)).reshape(-1)[-1], True)


def test_labels_round_trip_and_sizes_are_checked(tmp_path):
    labels = np.arange(4 * 4 * 2, dtype=np.uint16).reshape(4, 4, 2) * 7
    write_labels(tmp_path / "a.label", labels)
    np.testing.assert_array_equal(read_labels(tmp_path / "a.label", (4, 4, 2)), labels)
    with pytest.raises(BadInputError, match="needs"):
        read_labels(tmp_path / "a.label", (4, 4, 4))
    with pytest.raises(BadInputError, match="bytes"):
        unpack_bits(np.zeros(3, np.uint8), (4, 4, 2))


def test_metrics_accumulate_counts_over_frames_and_ignore_invalid_and_255():
    metrics = SSCMetrics()
    target = np.array([0, 1, 1, 9, 255, 9]).reshape(1, 2, 3)
    predicted = np.array([1, 1, 0, 9, 9, 1]).reshape(1, 2, 3)
    invalid = np.array([0, 0, 0, 0, 0, 1], bool).reshape(1, 2, 3)
    metrics.add(predicted, target, invalid)
    # kept voxels: (0->1 FP), (1->1 TP), (1->0 FN), (9->9 TP)
    np.testing.assert_array_equal(metrics.completion, [2, 1, 1])
    metrics.add(np.ones((1, 1, 2), int), np.ones((1, 1, 2), int))
    np.testing.assert_array_equal(metrics.completion, [4, 1, 1])
    summary = metrics.summary()
    assert summary["iou"] == pytest.approx(4 / 6)
    assert summary["precision"] == pytest.approx(4 / 5)
    assert summary["recall"] == pytest.approx(4 / 5)
    per_class = metrics.class_iou()
    assert per_class[1] == pytest.approx(3 / 5)  # TP 3, FP 1 (empty predicted car), FN 1
    assert per_class[9] == pytest.approx(1.0)
    assert summary["miou"] == pytest.approx((3 / 5 + 1.0) / 2)  # classes absent everywhere are not averaged
    assert summary["miou_all"] == pytest.approx((3 / 5 + 1.0) / 19)
    assert np.isnan(per_class[5])
