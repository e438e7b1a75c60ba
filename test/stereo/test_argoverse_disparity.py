"""Disparity check on a real rectified pair: Argoverse 1 stereo test frame against its
LiDAR-derived disparity (argoverse/argoverse-api @ f886ac54, tests/test_data/stereo, fetched
outside the repository; skipped when absent)."""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.stereo.matching import StereoParams, compute_disparity

ARGOVERSE_ENV = "DCR_ARGOVERSE_STEREO"
DEFAULT = Path("/work/data/argoverse/tests/test_data/stereo")
SCALE = 4  # 2464x2056 -> 616x514: the matcher's range and the test's time stay small


@pytest.fixture(scope="module")
def argoverse():
    root = Path(os.environ.get(ARGOVERSE_ENV, DEFAULT))
    images = root / "rectified_stereo_images_v1.1" / "test" / "1"
    if not images.is_dir():
        pytest.skip(f"Argoverse stereo test data is absent: extract tests/test_data/stereo of argoverse/argoverse-api "
                    f"@ f886ac54 so that {DEFAULT} exists (or set {ARGOVERSE_ENV})")
    cameras = {c["key"]: c["value"] for c in json.loads((images / "vehicle_calibration_stereo_info.json").read_text())
               ["camera_data_"]}
    rect = cameras["image_raw_stereo_front_left_rect"]
    baseline = np.linalg.norm(np.subtract(*(cameras[f"image_raw_stereo_front_{side}"]["vehicle_SE3_camera_"]
                                            ["translation"] for side in ("left", "right"))))
    left = cv2.imread(str(images / "stereo_front_left_rect" / "stereo_front_left_rect_1.jpg"))[:, :, ::-1]
    right = cv2.imread(str(images / "stereo_front_right_rect" / "stereo_front_right_rect_1.jpg"))[:, :, ::-1]
    truth = cv2.imread(str(root / "disparity_maps_v1.1" / "test" / "1" / "stereo_front_left_rect_disparity" /
                           "disparity_1.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 256.0  # 0 = none
    return left, right, truth, rect, float(baseline)


def test_sgbm_disparity_and_depth_agree_with_the_lidar_on_a_real_rectified_pair(argoverse):
    left, right, truth, rect, baseline = argoverse
    height, width = left.shape[:2]
    f = rect["focal_length_x_px_"]
    K = [[f, 0, rect["focal_center_x_px_"]], [0, rect["focal_length_y_px_"], rect["focal_center_y_px_"]], [0, 0, 1]]
    left_model = CameraModel(width, height, K, P=np.hstack([K, [[0], [0], [0]]])).resized(width // SCALE, height // SCALE)
    right_model = CameraModel(width, height, K, P=np.hstack([K, [[-f * baseline], [0], [0]]])).resized(
        width // SCALE, height // SCALE)
    small = [cv2.resize(image, (width // SCALE, height // SCALE), interpolation=cv2.INTER_AREA) for image in (left, right)]
    disparity = compute_disparity(*small, left_model, right_model, StereoParams())
    assert disparity.max_disparity + 1 == 96  # f B / 3 m = 97 px at this scale
    rows, cols = np.nonzero(truth > 0)
    r = np.round((rows + 0.5) / SCALE - 0.5).astype(int).clip(0, height // SCALE - 1)
    c = np.round((cols + 0.5) / SCALE - 0.5).astype(int).clip(0, width // SCALE - 1)
    expected = truth[rows, cols] / SCALE
    matched = disparity.valid[r, c]
    error = np.abs(disparity.disparity[r, c][matched] - expected[matched])
    depth, lidar_depth = disparity.to_depth()[r, c][matched], left_model.fx * baseline / expected[matched]
    relative = np.abs(depth - lidar_depth) / lidar_depth
    print(f"{matched.sum()} LiDAR pixels matched ({matched.mean():.0%}): median |error| {np.median(error):.2f} px, "
          f"> 3 px {np.mean(error > 3):.1%}, depth median relative error {np.median(relative):.1%}")
    assert matched.mean() > 0.7
    assert np.median(error) < 1.0 and np.mean(error > 3) < 0.05
    assert np.median(relative) < 0.08
