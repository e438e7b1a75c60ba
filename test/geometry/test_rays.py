"""The rays of a depth image start at the camera centre of its projection."""

import numpy as np

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.rays import camera_centre, depth_rays


def test_camera_centre_of_a_kitti_style_projection():
    K = np.array([[700.0, 0, 600], [0, 700, 180], [0, 0, 1]])
    P = np.hstack([K, [[700.0 * 0.06], [0], [0]]])  # camera 2: 6 cm left of camera 0
    camera = CameraModel(1200, 360, K, P=P)
    np.testing.assert_allclose(camera_centre(camera), [-0.06, 0, 0], atol=1e-12)


def test_rays_end_at_the_valid_pixels_and_start_at_the_centre_in_the_grid_frame():
    camera = CameraModel.from_intrinsics(100.0, 100.0, 1.5, 1.5, 4, 4)
    depth = np.zeros((4, 4), np.float32)
    depth[1, 2], depth[3, 0], depth[0, 0] = 5.0, 2.0, np.nan
    T_grid_camera = np.eye(4)
    T_grid_camera[:3, 3] = [1.0, 2.0, 3.0]
    rays = depth_rays(depth, camera, T_grid_camera)
    np.testing.assert_allclose(rays.origin, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(rays.points[:, 2], [8.0, 5.0])  # row-major: (1, 2) then (3, 0)
    assert rays.ray_mask is None and rays.labels is None
