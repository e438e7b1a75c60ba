import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import VoxelGrid, voxels_in_view


def test_default_grid_is_semantic_kitti_geometry():
    grid = VoxelGrid()
    assert grid.shape == (256, 256, 32)
    np.testing.assert_allclose(grid.upper, [51.2, 25.6, 4.4], atol=1e-9)
    centres = grid.centres()
    assert centres.shape == (256, 256, 32, 3)
    np.testing.assert_allclose(centres[0, 0, 0], [0.1, -25.5, -1.9], atol=1e-6)
    np.testing.assert_allclose(centres[-1, -1, -1], [51.1, 25.5, 4.3], atol=1e-5)


def test_voxel_index_round_trips_centres_and_flags_outside_points():
    grid = VoxelGrid(origin=(-1.0, -2.0, 0.0), resolution=0.5, shape=(4, 8, 2))
    centres = grid.centres().reshape(-1, 3)
    index, inside = grid.voxel_index(centres)
    assert inside.all()
    np.testing.assert_array_equal(index, np.argwhere(np.ones(grid.shape, bool)))
    _, inside = grid.voxel_index(np.array([[1.01, 0.0, 0.5], [-1.01, 0.0, 0.5], [0.0, 0.0, 0.99]]))
    np.testing.assert_array_equal(inside, [False, False, True])


def test_centre_index_range_selects_exactly_the_centres_in_a_box():
    grid = VoxelGrid(origin=(0.0, 0.0, 0.0), resolution=1.0, shape=(10, 10, 10))
    block = grid.centre_index_range(np.array([1.2, 0.5, -3.0]), np.array([4.5, 2.49, 20.0]))
    assert block == (slice(1, 5), slice(0, 2), slice(0, 10))


def test_bad_grid_is_rejected():
    with pytest.raises(BadInputError, match="resolution"):
        VoxelGrid(resolution=0.0)
    with pytest.raises(BadInputError, match="shape"):
        VoxelGrid(shape=(0, 1, 1))


def test_voxels_in_view_is_the_camera_frustum():
    grid = VoxelGrid(origin=(0.0, -2.0, -1.0), resolution=0.5, shape=(8, 8, 4))
    camera = CameraModel.from_intrinsics(10.0, 10.0, 9.5, 4.5, 20, 10)  # 90 deg across, 53 deg high
    T_camera_grid = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)  # x forward
    seen = voxels_in_view(grid, camera, T_camera_grid)
    centres = grid.centres()
    x, y, z = centres[..., 0], centres[..., 1], centres[..., 2]
    expected = (x > 0) & (np.abs(y) <= x) & (np.abs(z) * 10.0 <= 5.0 * x)
    expected &= (10.0 * -y / x + 9.5 < 19.5) & (10.0 * -z / x + 4.5 < 9.5)  # the half-pixel edges
    np.testing.assert_array_equal(seen, expected)
