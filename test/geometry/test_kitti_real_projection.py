"""Real-data check of the calibration parser + projection on KITTI object frames."""

import cv2
import numpy as np
import pytest

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.geometry.kitti_calib import load_object_calib
from depth_completion_ros.geometry.projection import points_to_sparse_depth, project_to_pixels

FRAMES = ["000000", "000001", "000002"]
SHIFTS = [(4, 0), (-4, 0), (0, 4), (0, -4)]


def mutual_information(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """Mutual information (nats) of two 1-D samples from their joint histogram."""
    joint, _, _ = np.histogram2d(a, b, bins=bins)
    p = joint / joint.sum()
    independent = p.sum(axis=1, keepdims=True) @ p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / independent[nz])))


def load_frame(root, frame):
    calib = load_object_calib(root / "calib" / f"{frame}.txt")
    gray = cv2.imread(str(root / "image_2" / f"{frame}.png"), cv2.IMREAD_GRAYSCALE)
    camera = calib.camera(2, gray.shape[1], gray.shape[0])
    return calib, camera, gray, read_velodyne_bin(root / "velodyne" / f"{frame}.bin")


@pytest.mark.parametrize("frame", FRAMES)
def test_projection_density_and_range(kitti_object, frame):
    calib, camera, gray, scan = load_frame(kitti_object, frame)
    depth = points_to_sparse_depth(scan, camera, calib.T_cam0_velo)
    assert depth.shape == gray.shape
    valid = depth[depth > 0]
    assert 18_000 <= valid.size <= 21_000  # ~19-20k for an HDL-64E in the KITTI image
    assert valid.min() > 0 and valid.max() <= 80.0
    # the ground in front of the car is below the horizon and close: bottom rows are near
    rows = np.nonzero(depth)[0]
    assert np.median(depth[depth > 0][rows > 0.9 * depth.shape[0]]) < 10.0


@pytest.mark.parametrize("frame", FRAMES)
def test_reflectance_agrees_with_the_image_better_than_a_4px_shifted_projection(kitti_object, frame):
    """Pandey et al. (2012): LiDAR reflectance and image intensity share the most mutual
    information at the true calibration; a projection moved by 4 pixels shares less."""
    calib, camera, gray, scan = load_frame(kitti_object, frame)
    hits = project_to_pixels(scan, camera, calib.T_cam0_velo)
    reflectance = scan[hits.point_index, 3]

    def mi_with_shift(du: int, dv: int) -> float:
        rows = np.clip(hits.rows + dv, 0, gray.shape[0] - 1)
        cols = np.clip(hits.cols + du, 0, gray.shape[1] - 1)
        return mutual_information(reflectance, gray[rows, cols].astype(np.float64))

    aligned = mi_with_shift(0, 0)
    shifted = [mi_with_shift(du, dv) for du, dv in SHIFTS]
    assert aligned > max(shifted), (aligned, shifted)
