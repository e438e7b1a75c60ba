import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import FREE, VoxelGrid, downsample_labels


def test_grid_carries_values_without_changing_equality():
    grid = VoxelGrid(shape=(4, 4, 2))
    state = np.full((4, 4, 2), FREE, np.uint8)
    filled = grid.with_values(state=state, probability=np.zeros((4, 4, 2), np.float32))
    assert filled == grid and hash(filled) == hash(grid)
    assert filled.state is state and filled.labels is None
    assert filled.geometry().state is None
    with pytest.raises(BadInputError, match="state"):
        grid.with_values(state=np.zeros((4, 4, 3), np.uint8))


def test_downsampled_grid_covers_the_same_box():
    coarse = VoxelGrid().downsampled(2)
    assert coarse.shape == (128, 128, 16) and coarse.resolution == pytest.approx(0.4)
    np.testing.assert_allclose(coarse.upper, VoxelGrid().upper)
    with pytest.raises(BadInputError, match="divide"):
        VoxelGrid(shape=(3, 4, 4)).downsampled(2)


def test_downsample_labels_takes_the_majority_of_observed_fine_voxels():
    labels = np.zeros((4, 2, 2), np.uint16)
    invalid = np.zeros((4, 2, 2), bool)
    labels[0:2, :, :] = 9
    labels[0, 0, 0] = 1
    labels[2, 0, 0] = 1  # one car voxel among empty ones: the block is still a car
    labels[3, :, :] = 5
    invalid[3, :, :] = True  # all unobserved: the block is invalid and empty
    coarse, coarse_invalid = downsample_labels(labels, invalid, 2)
    assert coarse.shape == (2, 1, 1)
    assert coarse[0, 0, 0] == 9 and coarse[1, 0, 0] == 1
    assert coarse_invalid.tolist() == [[[False]], [[False]]]
    invalid[2:4] = True
    coarse, coarse_invalid = downsample_labels(labels, invalid, 2)
    assert coarse[1, 0, 0] == 0 and coarse_invalid[1, 0, 0]
