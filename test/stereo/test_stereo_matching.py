from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.datasets.shared_data import find_shared_data
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.stereo import disparity_errors, fill_background
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.stereo.matching import (
    StereoParams,
    compute_disparity,
    disparity_range,
    rectify,
    stereo_geometry,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pair(width: int, height: int, focal: float, baseline: float, left_tx: float = 0.0):
    K = [[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]]
    left = CameraModel(width, height, K, P=np.hstack([K, [[left_tx], [0], [0]]]))
    right = CameraModel(width, height, K, P=np.hstack([K, [[left_tx - focal * baseline], [0], [0]]]))
    return left, right


@pytest.fixture(scope="module")
def cones():
    folder = find_shared_data("middlebury_cones", REPO_ROOT)
    if folder is None:
        pytest.skip("../shared/data/middlebury_cones is absent (set DCR_SHARED_DATA)")
    left = cv2.imread(str(folder / "left.png"), cv2.IMREAD_UNCHANGED)
    right = cv2.imread(str(folder / "right.png"), cv2.IMREAD_UNCHANGED)
    truth = cv2.imread(str(folder / "disp_left.tif"), cv2.IMREAD_UNCHANGED)
    visible = cv2.imread(str(folder / "Occlusion_LEFT.png"), cv2.IMREAD_GRAYSCALE) == 255
    return left, right, truth, visible & (truth > 0)


def test_sgbm_beats_block_matching_on_middlebury_cones(cones):
    left, right, truth, non_occluded = cones
    left_camera, right_camera = _pair(left.shape[1], left.shape[0], focal=1000.0, baseline=0.1)
    errors = {}
    for algorithm in ("sgbm", "bm"):
        params = StereoParams(algorithm=algorithm, num_disparities=64, block_size=5)
        errors[algorithm] = disparity_errors(compute_disparity(left, right, left_camera, right_camera, params),
                                             truth, non_occluded)
    print(errors)
    for metric in ("bad1", "bad2", "epe"):
        assert errors["sgbm"][metric] < errors["bm"][metric], metric
    assert errors["sgbm"]["bad2"] < 0.15  # published SGBM on Cones: ~5-10 % bad pixels


def test_disparity_gives_depth_of_a_synthetic_shift():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((120, 240)) * 255).astype(np.uint8), (3, 3), 0)
    shift = 12
    left = texture[:, 40:200]
    right = texture[:, 40 + shift:200 + shift]
    left_camera, right_camera = _pair(160, 120, focal=100.0, baseline=0.5, left_tx=30.0)
    disparity = compute_disparity(left, right, left_camera, right_camera, StereoParams(num_disparities=32))
    inner = disparity.valid[:, 40:150]
    assert inner.mean() > 0.9
    np.testing.assert_allclose(np.median(disparity.disparity[:, 40:150][inner]), shift, atol=0.1)
    depth = disparity.to_depth()
    np.testing.assert_allclose(np.median(depth[:, 40:150][inner]), 100.0 * 0.5 / shift, rtol=0.01)
    assert np.all(depth[~disparity.valid] == 0)


def test_stereo_geometry_reads_baseline_from_both_projections():
    left, right = _pair(100, 50, focal=721.5, baseline=0.54, left_tx=44.86)
    focal, baseline = stereo_geometry(left, right)
    assert focal == pytest.approx(721.5)
    assert baseline == pytest.approx(0.54)


def test_bad_stereo_inputs_are_rejected():
    left_camera, right_camera = _pair(64, 32, focal=50.0, baseline=0.1)
    image = np.zeros((32, 64), np.uint8)
    with pytest.raises(BadInputError, match="CameraInfo says"):
        compute_disparity(np.zeros((30, 64), np.uint8), np.zeros((30, 64), np.uint8), left_camera, right_camera)
    with pytest.raises(BadInputError, match="baseline"):
        compute_disparity(image, image, right_camera, left_camera)
    with pytest.raises(BadInputError, match="uint8"):
        compute_disparity(image.astype(np.float32), image.astype(np.float32), left_camera, right_camera)
    with pytest.raises(BadInputError, match="multiple of 16"):
        StereoParams(num_disparities=20)


def test_rectify_undoes_a_known_rotation_and_distortion():
    # A raw camera rotated by R about y: rectify must map the raw image of a point to where
    # the rectified projection P puts it.
    width, height, focal = 200, 100, 150.0
    angle = np.radians(3.0)
    R = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    K = np.array([[focal, 0, 100.0], [0, focal, 50.0], [0, 0, 1]])
    D = np.array([-0.05, 0.01, 0, 0, 0])
    camera = CameraModel(width, height, K, D=D, R=R, P=np.hstack([K, np.zeros((3, 1))]), rectified=False)
    point_rect = np.array([0.3, -0.1, 2.0])
    point_raw = R.T @ point_rect  # R maps raw camera -> rectified frame
    raw_uv, _ = cv2.projectPoints(point_raw[None], np.zeros(3), np.zeros(3), K, D)
    raw = np.zeros((height, width), np.uint8)
    u, v = np.round(raw_uv.ravel()).astype(int)
    raw[v - 1:v + 2, u - 1:u + 2] = 255
    rectified = rectify(raw, camera)
    expected = (K @ point_rect)[:2] / point_rect[2]
    peak = np.array(np.unravel_index(np.argmax(cv2.GaussianBlur(rectified, (5, 5), 0)), rectified.shape))[::-1]
    np.testing.assert_allclose(peak, expected, atol=1.5)


def test_fill_background_takes_the_smaller_neighbour():
    disparity = np.array([[5.0, 0, 0, 2.0, 0], [0, 0, 0, 0, 0]], np.float32)
    valid = disparity > 0
    np.testing.assert_array_equal(fill_background(disparity, valid), [[5, 2, 2, 2, 2], [0, 0, 0, 0, 0]])


def test_disparity_range_follows_the_rig_unless_given():
    assert disparity_range(StereoParams(), 721.5377, 0.54) == 128  # KITTI: reaches 3.04 m
    assert disparity_range(StereoParams(), 334.6, 0.1208) == 16  # ZED 672x376: 2.5 m
    assert disparity_range(StereoParams(), 10.0, 0.1) == 16  # never below 16
    assert disparity_range(StereoParams(min_depth=1.0), 334.6, 0.1208) == 48
    assert disparity_range(StereoParams(num_disparities=64), 721.5377, 0.54) == 64
    left, right = _pair(160, 120, focal=100.0, baseline=0.5)
    image = np.zeros((120, 160), np.uint8)
    assert compute_disparity(image, image, left, right).max_disparity == 15.0  # f B / 3 m = 16.7 -> 16
    with pytest.raises(BadInputError, match="min_depth"):
        StereoParams(min_depth=0.0)
