import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import (
    CameraModel,
    RegionOfInterest,
    adjust_intrinsics,
    distort_normalized,
    project,
    undistort_normalized,
    unproject,
)
from depth_completion_ros.geometry.transforms import quaternion_to_matrix

K = [[500.0, 0.0, 320.5], [0.0, 510.0, 240.25], [0.0, 0.0, 1.0]]
DISTORTIONS = {
    "plumb_bob": [-0.28, 0.07, 0.001, -0.0005, -0.008],
    "rational_polynomial": [-0.3, 0.1, 0.0008, 0.0002, -0.01, 0.05, -0.02, 0.003],
    "equidistant": [0.02, -0.01, 0.004, -0.001],
}


def random_points(rng: np.random.Generator, n: int = 500) -> np.ndarray:
    """Points in front of the camera inside a ~60 degree cone, 0.5-50 m."""
    z = rng.uniform(0.5, 50, n)
    xy = rng.uniform(-0.5, 0.5, (n, 2)) * z[:, None]
    return np.column_stack([xy, z])


def stereo_right_camera() -> CameraModel:
    R = quaternion_to_matrix([0.01, -0.02, 0.005, 1.0])
    P = [[480.0, 0, 300.0, -480.0 * 0.54], [0, 480.0, 230.0, 0.0], [0, 0, 1, 0]]
    return CameraModel(width=640, height=480, K=K, R=R, P=P, rectified=True)


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_raw_projection_round_trip_with_distortion(model):
    cam = CameraModel(width=640, height=480, K=K, D=DISTORTIONS[model], distortion_model=model, rectified=False)
    points = random_points(np.random.default_rng(0))
    uv, depth = project(cam, points)
    np.testing.assert_allclose(depth, points[:, 2])
    np.testing.assert_allclose(unproject(cam, uv, depth), points, atol=1e-6)


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_distortion_matches_opencv(model):
    cam = CameraModel(width=640, height=480, K=K, D=DISTORTIONS[model], distortion_model=model, rectified=False)
    points = random_points(np.random.default_rng(1))
    uv, _ = project(cam, points)
    D = np.array(DISTORTIONS[model])
    if model == "equidistant":
        expected, _ = cv2.fisheye.projectPoints(points[:, None, :], np.zeros(3), np.zeros(3), np.array(K), D)
    else:
        expected, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), np.array(K), D)
    np.testing.assert_allclose(uv, expected.reshape(-1, 2), atol=1e-6)


def test_rectified_projection_uses_R_and_P_and_round_trips():
    cam = stereo_right_camera()
    points = random_points(np.random.default_rng(2))
    uv, depth = project(cam, points)
    rect = points @ cam.R.T
    expected_u = (480.0 * rect[:, 0] - 480.0 * 0.54) / rect[:, 2] + 300.0
    np.testing.assert_allclose(uv[:, 0], expected_u)
    np.testing.assert_allclose(unproject(cam, uv, depth), points, atol=1e-9)
    assert cam.stereo_baseline_term == pytest.approx(480.0 * 0.54)


def test_points_behind_the_camera_get_nan_pixels():
    cam = CameraModel(width=640, height=480, K=K)
    uv, depth = project(cam, np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 2.0]]))
    assert np.isnan(uv[0]).all() and np.isfinite(uv[1]).all()
    assert depth[0] == -1.0


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(0, 100),
    y=st.integers(0, 80),
    w=st.integers(20, 500),
    h=st.integers(20, 380),
    scale=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
)
def test_crop_and_resize_move_pixels_like_the_image(x, y, w, h, scale):
    """A point's pixel in the cropped+resized image = the original pixel mapped the way
    cv2.resize maps pixel centres."""
    cam = stereo_right_camera()
    points = random_points(np.random.default_rng(3), 50)
    uv, _ = project(cam, points)
    new = adjust_intrinsics(cam, crop=(x, y, w, h), size=(round(w * scale), round(h * scale)))
    uv_new, _ = project(new, points)
    sx, sy = new.width / w, new.height / h
    np.testing.assert_allclose(uv_new[:, 0], (uv[:, 0] - x + 0.5) * sx - 0.5, atol=1e-9)
    np.testing.assert_allclose(uv_new[:, 1], (uv[:, 1] - y + 0.5) * sy - 0.5, atol=1e-9)


def test_resize_agrees_with_cv2_resize_of_a_blob():
    """A smooth blob centred on a projected point stays centred on it after cv2.resize."""
    cam = CameraModel.from_intrinsics(400, 400, 200, 150, 400, 300)
    point = np.array([[0.3, -0.2, 2.0]])
    u, v = project(cam, point)[0][0]
    cols, rows = np.meshgrid(np.arange(400), np.arange(300))
    image = np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2 * 3.0**2)).astype(np.float32)
    for size, interpolation in (((200, 150), cv2.INTER_AREA), ((800, 600), cv2.INTER_LINEAR)):
        resized = cv2.resize(image, size, interpolation=interpolation)
        r, c = np.mgrid[0 : size[1], 0 : size[0]]
        centroid = [np.sum(c * resized) / resized.sum(), np.sum(r * resized) / resized.sum()]
        np.testing.assert_allclose(project(cam.resized(*size), point)[0][0], centroid, atol=0.02)


def test_binning_and_roi_give_the_delivered_image_model():
    full = CameraModel(width=1280, height=960, K=K, binning_x=2, binning_y=2, roi=RegionOfInterest(100, 60, 600, 800))
    image = full.image_model()
    assert (image.width, image.height) == (400, 300)
    expected = adjust_intrinsics(
        CameraModel(width=1280, height=960, K=K), crop=(100, 60, 800, 600), size=(400, 300)
    )
    np.testing.assert_allclose(image.K, expected.K)
    assert image.image_model() is image
    # projecting with the binned model = projecting full-res then binning the pixel
    point = np.array([[0.1, 0.05, 3.0]])
    uv_full, _ = project(CameraModel(width=1280, height=960, K=K), point)
    np.testing.assert_allclose(project(full, point)[0][0], (uv_full[0] - [100, 60] + 0.5) / 2 - 0.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"K": np.zeros((3, 3))}, "CameraModel.K"),
        ({"K": [[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]]}, "CameraModel.K"),
        ({"K": [[500, 0, 320], [0, np.inf, 240], [0, 0, 1]]}, "CameraModel.K"),
        ({"K": K, "D": [0.1, np.nan]}, "CameraModel.D"),
        ({"K": K, "distortion_model": "kannala"}, "CameraModel.distortion_model"),
        ({"K": K, "D": [0.1] * 6}, "CameraModel.D"),
        ({"K": K[:2]}, "CameraModel.K"),
    ],
)
def test_bad_calibration_raises_the_typed_error(kwargs, field):
    with pytest.raises(BadInputError) as error:
        CameraModel(width=640, height=480, **kwargs)
    assert error.value.field == field


def test_zero_P_and_R_mean_K_and_identity():
    cam = CameraModel(width=640, height=480, K=K, R=np.zeros((3, 3)), P=np.zeros((3, 4)))
    np.testing.assert_array_equal(cam.P[:, :3], np.array(K))
    np.testing.assert_array_equal(cam.R, np.eye(3))


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_undistort_inverts_distort(model):
    xy = np.random.default_rng(4).uniform(-0.6, 0.6, (300, 2))
    D = np.array(DISTORTIONS[model])
    np.testing.assert_allclose(undistort_normalized(distort_normalized(xy, D, model), D, model), xy, atol=1e-9)
