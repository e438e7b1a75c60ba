import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel, project
from depth_completion_ros.geometry.projection import (
    depth_to_points,
    occlusion_filter,
    points_to_sparse_depth,
    project_to_pixels,
    zbuffer,
)
from depth_completion_ros.geometry.transforms import invert_transform, transform_from_xyz_quat

CAM = CameraModel.from_intrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)


def test_zbuffer_keeps_the_nearest_point_per_pixel():
    # three points on the optical axis ray through pixel (31.5 -> col 32? no: cx is a centre)
    points = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 2.0], [0.0, 0.0, 9.0], [0.2, 0.0, 4.0]])
    depth = points_to_sparse_depth(points, CAM)
    hits = project_to_pixels(points, CAM)
    assert hits.point_index.tolist() == [0, 1, 2, 3]
    row, col = hits.rows[0], hits.cols[0]
    assert depth[row, col] == pytest.approx(2.0)
    assert depth[hits.rows[3], hits.cols[3]] == pytest.approx(4.0)
    assert np.count_nonzero(depth) == 2
    _, index = zbuffer(hits, CAM.height, CAM.width)
    assert index[row, col] == 1


def test_points_outside_image_range_or_nonfinite_are_dropped():
    points = np.array(
        [[0, 0, 0.05], [0, 0, -3], [100, 0, 1], [np.nan, 0, 2], [0, np.inf, 2], [0, 0, 50], [0.01, 0, 3]]
    )
    depth = points_to_sparse_depth(points, CAM, min_depth=0.1, max_depth=40)
    assert sorted(depth[depth > 0].tolist()) == pytest.approx([3.0])


def test_pixel_rounding_follows_pixel_centres():
    # u = 100 * x / z + 31.5 ; x = 0.00499 -> u = 31.999 -> col 32 ; x = -0.0051 -> u = 30.99 -> col 31
    hits = project_to_pixels(np.array([[0.00499, 0, 1.0], [-0.0051, 0, 1.0]]), CAM)
    assert hits.cols.tolist() == [32, 31]


def test_extrinsic_is_applied():
    T_cam_lidar = transform_from_xyz_quat([0.0, 0.0, 1.0], [0, 0, 0, 1])
    depth = points_to_sparse_depth(np.array([[0.0, 0.0, 4.0]]), CAM, T_camera_points=T_cam_lidar)
    assert depth.max() == pytest.approx(5.0)


def test_occlusion_filter_drops_far_points_next_to_near_ones():
    sparse = np.zeros((10, 10), np.float32)
    sparse[5, 5] = 10.0  # background seen through a gap: occluded by the 5 m point
    sparse[5, 6] = 5.0
    sparse[2, 2] = 10.0  # isolated background: kept
    sparse[8, 8] = 10.5  # within 10 % of its neighbour: kept
    sparse[8, 9] = 10.0
    out = occlusion_filter(sparse, window=3)
    assert out[5, 5] == 0 and out[5, 6] == 5.0 and out[2, 2] == 10.0
    assert out[8, 8] == pytest.approx(10.5) and out[8, 9] == 10.0
    # the window is a parameter: a 1-pixel window keeps everything
    np.testing.assert_array_equal(occlusion_filter(sparse, window=1), sparse)


def test_occlusion_filter_rejects_even_window():
    with pytest.raises(ValueError):
        occlusion_filter(np.zeros((4, 4), np.float32), window=4)


def test_depth_to_points_round_trip_through_a_rotated_stereo_camera():
    cam = CameraModel(
        width=64,
        height=48,
        K=CAM.K,
        R=transform_from_xyz_quat([0, 0, 0], [0.02, 0.01, 0, 1])[:3, :3],
        P=[[90, 0, 30, -90 * 0.3], [0, 90, 22, 0], [0, 0, 1, 0.01]],
    )
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 20, (48, 64)).astype(np.float32)
    depth[rng.random((48, 64)) < 0.3] = 0
    depth[0, 0] = np.nan
    rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    points, colors = depth_to_points(depth, cam, rgb)
    valid = np.isfinite(depth) & (depth > 0)
    assert points.shape == (valid.sum(), 3)
    np.testing.assert_array_equal(colors, rgb[valid])
    # projecting the points back lands each on its own pixel at its own depth
    uv, z = project(cam, points)
    rows, cols = np.nonzero(valid)
    np.testing.assert_allclose(uv, np.column_stack([cols, rows]), atol=1e-3)
    np.testing.assert_allclose(z, depth[valid], rtol=1e-5)
    np.testing.assert_allclose(points_to_sparse_depth(points, cam), np.where(valid, depth, 0), rtol=1e-5)


def test_depth_to_points_rejects_mismatched_size():
    with pytest.raises(ValueError):
        depth_to_points(np.ones((10, 10), np.float32), CAM)


def test_points_in_lidar_frame_match_inverse_transform():
    T_lidar_cam = transform_from_xyz_quat([0.3, -0.1, 0.2], [0.5, -0.5, 0.5, -0.5])
    depth = np.full((48, 64), 7.0, np.float32)
    points_cam, _ = depth_to_points(depth, CAM)
    points_lidar = points_cam @ T_lidar_cam[:3, :3].T + T_lidar_cam[:3, 3]
    back = points_to_sparse_depth(points_lidar, CAM, T_camera_points=invert_transform(T_lidar_cam))
    np.testing.assert_allclose(back, depth, rtol=1e-5)
