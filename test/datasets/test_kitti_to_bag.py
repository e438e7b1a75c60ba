"""KITTI converter pieces: raw timestamps, odometry times, and the scan-order ring check."""

from __future__ import annotations

import calendar

import numpy as np
import pytest

from depth_completion_ros.datasets.kitti_to_bag import (
    ODOMETRY_EPOCH_NS,
    parse_odometry_times,
    parse_raw_timestamps,
    read_kitti_scan,
)
from depth_completion_ros.errors import BadInputError


def test_raw_timestamps_keep_nanoseconds(tmp_path):
    (tmp_path / "timestamps.txt").write_text("2011-09-26 13:02:25.964389445\n2011-09-26 13:02:26.5\n\n")
    stamps = parse_raw_timestamps(tmp_path / "timestamps.txt")
    second = calendar.timegm((2011, 9, 26, 13, 2, 25, 0, 0, 0))
    assert stamps.tolist() == [second * 10**9 + 964389445, (second + 1) * 10**9 + 500_000_000]
    (tmp_path / "timestamps.txt").write_text("2011-09-26 13:02:25.9\n26/09/2011\n")
    with pytest.raises(BadInputError, match=r"timestamps.txt:2: '26/09/2011'"):
        parse_raw_timestamps(tmp_path / "timestamps.txt")


def test_odometry_times_are_offset_from_a_fixed_epoch(tmp_path):
    (tmp_path / "times.txt").write_text("0.000000e+00\n1.036840e-01\n")
    assert parse_odometry_times(tmp_path / "times.txt").tolist() == [ODOMETRY_EPOCH_NS, ODOMETRY_EPOCH_NS + 103_684_000]
    (tmp_path / "times.txt").write_text("0.0\nsoon\n")
    with pytest.raises(BadInputError, match="times.txt: expected one time"):
        parse_odometry_times(tmp_path / "times.txt")


def _two_ring_scan() -> np.ndarray:
    """Two rings in firing order: each sweeps azimuth 0 -> 2 pi; the upper ring first."""
    azimuth = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    rings = [np.stack([10 * np.cos(azimuth), 10 * np.sin(azimuth), np.full(50, z), np.ones(50)], 1) for z in (0.5, -0.5)]
    return np.concatenate(rings).astype("<f4")


def test_rings_come_from_the_scan_order_and_a_shuffled_scan_is_refused(tmp_path):
    scan = _two_ring_scan()
    scan.tofile(tmp_path / "0.bin")
    cloud = read_kitti_scan(tmp_path / "0.bin")
    assert cloud["ring"].tolist() == [0] * 50 + [1] * 50
    np.testing.assert_array_equal(cloud["z"], scan[:, 2])
    np.concatenate([scan[50:], scan[:50]]).tofile(tmp_path / "1.bin")  # lower ring first: elevation rises
    with pytest.raises(BadInputError, match="1.bin: median elevation does not fall"):
        read_kitti_scan(tmp_path / "1.bin")
