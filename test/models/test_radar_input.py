"""Radar network inputs: point checks, column map, column prior, point list, flip."""

from __future__ import annotations

import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.radar_input import (
    check_radar,
    column_map,
    column_prior,
    flip_radar_points,
    ground_depth,
    pad_radar_points,
    radar_depth_image,
    radar_network_inputs,
    road_cut,
)

CAMERA = CameraModel.from_intrinsics(100.0, 100.0, 49.5, 29.5, 100, 60)


def point_at(col: float, row: float, depth: float, rcs: float = 0.0) -> list[float]:
    """Camera-frame point that projects to (col, row) at ``depth``."""
    return [(col - CAMERA.cx) / CAMERA.fx * depth, (row - CAMERA.cy) / CAMERA.fy * depth, depth, rcs, 1.0, -1.0]


def test_missing_columns_are_zero_filled_and_nan_rows_dropped():
    radar = check_radar(np.array([[1, 2, 10], [np.nan, 0, 5]], np.float32))
    np.testing.assert_array_equal(radar, [[1, 2, 10, 0, 0, 0]])
    assert check_radar(None).shape == (0, 6)
    with pytest.raises(ValueError, match=r"\(M, 3\+\)"):
        check_radar(np.zeros((4, 2)))


def test_column_map_spreads_the_nearest_depth_over_the_whole_column():
    radar = np.array([point_at(10, 30, 20.0), point_at(10, 50, 12.0), point_at(60, 5, 30.0)], np.float32)
    sparse = radar_depth_image(radar, CAMERA)
    assert sparse[30, 10] == pytest.approx(20.0) and sparse[50, 10] == pytest.approx(12.0)
    column = column_map(sparse, half_width=1)
    assert np.all(column[:, 9:12] == pytest.approx(12.0))  # nearest of the column wins, +-1 px
    assert np.all(column[:, 59:62] == pytest.approx(30.0))
    assert np.all(column[:, 13:58] == 0) and np.all(column[:, :8] == 0)


def test_column_prior_fills_sideways_from_the_nearest_column():
    column = np.zeros((3, 10), np.float32)
    column[:, 2], column[:, 7] = 5.0, 9.0
    prior = column_prior(column)
    np.testing.assert_array_equal(prior[0], [5, 5, 5, 5, 5, 9, 9, 9, 9, 9])  # ties go left
    assert np.all(prior == prior[0])
    assert not column_prior(np.zeros((3, 10), np.float32)).any()


def test_point_list_keeps_the_strongest_and_marks_padding():
    points = np.array([point_at(10, 10, 5, rcs) for rcs in (1.0, 9.0, 5.0)], np.float32)
    features, valid = pad_radar_points(points, 2)
    np.testing.assert_array_equal(features[:, 3], [9.0, 5.0])
    assert valid.all()
    features, valid = pad_radar_points(points, 5)
    assert valid.tolist() == [True] * 3 + [False] * 2 and not features[3:].any()


def test_flip_mirrors_lateral_position_and_velocity():
    flipped = flip_radar_points(np.array([[1, 2, 3, 4, 5, 6]], np.float32))
    np.testing.assert_array_equal(flipped, [[-1, 2, 3, 4, 5, -6]])


def test_network_inputs_without_radar_use_the_empty_scale():
    inputs = radar_network_inputs(check_radar(None), CAMERA, 8, empty_scale=17.0)
    assert inputs.scale == 17.0 and not inputs.valid.any() and not inputs.prior.any()
    behind = np.array([[0, 0, -5, 1, 0, 0]], np.float32)  # behind the camera: not in view
    assert not radar_network_inputs(behind, CAMERA, 8).valid.any()
    inputs = radar_network_inputs(np.array([point_at(10, 30, 20.0), point_at(70, 30, 10.0)], np.float32), CAMERA, 8)
    assert inputs.scale == pytest.approx(15.0) and inputs.valid.sum() == 2
    assert inputs.prior.min() > 0


def test_ground_depth_meets_the_road_at_the_camera_height():
    camera = CameraModel.from_intrinsics(100.0, 100.0, 50.0, 40.0, 100, 80)
    depth = ground_depth(camera, 1.5)
    assert np.all(np.isinf(depth[:41]))  # the horizon row (v = cy) and above never meet the road
    assert depth[50] == pytest.approx(1.5 * 100.0 / 10.0)  # 10 px below the horizon: z = h f / dv
    pitched = ground_depth(camera, 1.5, pitch_deg=5.0)
    assert np.isfinite(pitched[35]) and pitched[50] < depth[50]  # looking down: the road comes nearer


def test_road_cut_keeps_radar_nearer_than_the_road_and_the_road_elsewhere():
    road = np.array([np.inf, 30.0, 10.0, 5.0], np.float32)
    columns = np.zeros((4, 3), np.float32)
    columns[:, 1] = 8.0  # one radar column at 8 m
    cut = road_cut(columns, road)
    assert cut[:, 1].tolist() == [8.0, 8.0, 8.0, 5.0]  # the road in front of the return wins at the bottom
    assert cut[:, 0].tolist() == [0.0, 30.0, 10.0, 5.0]  # no column: road below the horizon, empty above


def test_the_road_cut_prior_is_what_the_network_sees_with_a_road():
    camera = CameraModel.from_intrinsics(100.0, 100.0, 50.0, 40.0, 100, 80)
    radar = np.array([[0.0, 0.0, 40.0, 5.0, 0.0, 0.0]], np.float32)
    plain = radar_network_inputs(radar, camera, 4)
    cut = radar_network_inputs(radar, camera, 4, road=(1.5, 0.0))
    assert plain.prior[79, 50] == pytest.approx(40.0)  # the column reaches the bottom row
    assert cut.prior[79, 50] == pytest.approx(1.5 * 100.0 / 39.0, rel=1e-5)  # the road is nearer there
    assert np.array_equal(plain.sparse, cut.sparse) and plain.scale == cut.scale
