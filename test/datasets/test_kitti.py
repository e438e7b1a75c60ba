import cv2
import numpy as np
import pytest

from depth_completion_ros.datasets.kitti import read_depth_png, read_velodyne_bin, write_depth_png
from depth_completion_ros.errors import BadInputError


def test_depth_png_round_trip_and_invalid_values(tmp_path):
    depth = np.array([[0.0, 1.0, 12.34567], [np.nan, np.inf, -2.0], [300.0, 0.001, 80.0]], np.float32)
    path = tmp_path / "d.png"
    write_depth_png(path, depth)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16
    assert stored[0, 1] == 256 and stored[0, 2] == round(12.34567 * 256)
    assert stored[1].tolist() == [0, 0, 0]  # NaN, Inf, negative -> invalid
    assert stored[2, 0] == 65535 and stored[2, 1] == 1  # clipped far, tiny kept valid
    back = read_depth_png(path)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[0], [0, 1.0, round(12.34567 * 256) / 256])
    assert back[2, 2] == 80.0


def test_reading_an_8bit_png_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "eight.png"
    cv2.imwrite(str(path), np.zeros((4, 4), np.uint8))
    with pytest.raises(BadInputError) as error:
        read_depth_png(path)
    assert str(path) in str(error.value) and "uint16" in str(error.value)
    with pytest.raises(BadInputError, match="missing.png: not found"):
        read_depth_png(tmp_path / "missing.png")


def test_velodyne_bin(tmp_path, kitti_object):
    scan = read_velodyne_bin(kitti_object / "velodyne" / "000000.bin")
    assert scan.shape == (115384, 4) and scan.dtype == np.float32
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 10)
    with pytest.raises(BadInputError, match="16-byte"):
        read_velodyne_bin(bad)
