"""The compiled voxel kernels against their numpy definitions."""

import numpy as np

from depth_completion_ros.geometry.ray_walk import mark_point_voxels, table_lookup
from depth_completion_ros.geometry.voxels import VoxelGrid

GRID = VoxelGrid(origin=(-1.0, -2.0, -0.5), resolution=0.25, shape=(12, 16, 6))


def test_point_voxels_are_those_of_voxel_index_including_faces_and_bad_rows():
    rng = np.random.default_rng(5)
    points = rng.uniform(np.asarray(GRID.origin) - 1.0, GRID.upper + 1.0, size=(5000, 3))
    points[::7] = np.round(points[::7] / GRID.resolution) * GRID.resolution  # on voxel faces
    points[1::50, 0], points[2::50, 2] = np.nan, np.inf
    marked = np.zeros(int(np.prod(GRID.shape)), np.uint8)
    mark_point_voxels((points - GRID.origin) / GRID.resolution, np.asarray(GRID.shape, np.int64), marked, np.uint8(3))
    index, inside = GRID.voxel_index(np.nan_to_num(points, nan=-1e9, posinf=-1e9))
    expected = np.zeros(GRID.shape, np.uint8)
    expected[tuple(index[inside].T)] = 3
    assert 0 < np.count_nonzero(expected) < expected.size
    np.testing.assert_array_equal(marked.reshape(GRID.shape), expected)


def test_table_lookup_is_fancy_indexing():
    keys = np.random.default_rng(0).integers(0, 3, 10007).astype(np.uint8)
    table = np.array([0.5, 0.0, 1.0], np.float32)
    out = np.empty(keys.shape, np.float32)
    table_lookup(table, keys, out)
    np.testing.assert_array_equal(out, table[keys])
