"""KITTI cameras in their own rectified frames (how ``dcr convert`` publishes them)."""

from __future__ import annotations

import numpy as np

from depth_completion_ros.geometry.camera import project
from depth_completion_ros.geometry.kitti_calib import KittiCalibration, camera_in_own_frame
from depth_completion_ros.geometry.transforms import make_transform, rotation_from_rpy


def _calibration() -> KittiCalibration:
    K = np.array([[700.0, 0, 600], [0, 700, 180], [0, 0, 1]])
    offsets = {2: [0.06, 0.002, 0.003], 3: [-0.47, 0.002, 0.003]}  # same depth offset: exact stereo convention
    P = {i: K @ np.hstack([np.eye(3), np.reshape(t, (3, 1))]) for i, t in offsets.items()}
    T = make_transform(rotation_from_rpy(-np.pi / 2, 0.01, -np.pi / 2), [0.1, -0.08, -0.27])
    return KittiCalibration(P_rect=P, R_rect=rotation_from_rpy(0.004, -0.008, 0.01), T_cam0_velo=T,
                            image_sizes={2: (1242, 375), 3: (1242, 375)})


def test_own_frame_projection_equals_the_kitti_projection():
    calib = _calibration()
    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(3, 60, 500), rng.uniform(-20, 20, 500), rng.uniform(-2, 2, 500)])
    left, T_left_velo = camera_in_own_frame(calib, 2)
    right, T_right_velo = camera_in_own_frame(calib, 3, stereo_left=2)
    np.testing.assert_allclose(left.P[:, 3], 0.0)
    assert right.P[0, 3] < 0  # Tx = -fx B
    np.testing.assert_allclose(right.stereo_baseline_term / right.fx, 0.53)
    for model, T, index in ((left, T_left_velo, 2), (right, T_left_velo, 3)):  # a right P takes left-frame points
        uv, depth = project(model, points, T)
        uv_kitti, depth_kitti = project(calib.camera(index), points, calib.T_cam0_velo)
        np.testing.assert_allclose(uv, uv_kitti, atol=1e-9)
        np.testing.assert_allclose(depth, depth_kitti, atol=1e-12)
    # the right camera's own frame sits B to the right of the left one, along the rectified x axis
    np.testing.assert_allclose((T_left_velo @ np.linalg.inv(T_right_velo))[:3, 3], [0.53, 0.0, 0.0], atol=1e-12)
