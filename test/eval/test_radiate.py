"""RADIATE occupancy targets on a real held-out pair (skipped when the data is absent)."""

import numpy as np
import pytest

from depth_completion_ros.datasets.radiate import ZED_GRID, RadiateSequence
from depth_completion_ros.eval.radiate import TARGET_LABEL, occupancy_target, stereo_frame
from depth_completion_ros.geometry.voxels import OCCUPIED
from depth_completion_ros.pipeline.occupancy_methods import create_occupancy_method

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seq(radiate_folder):
    return RadiateSequence(radiate_folder)


def test_target_accumulates_sweeps_and_is_scored_in_the_frustum_only(seq):
    index = seq.held_out[0]
    target = occupancy_target(seq, index)
    frustum = seq.frustum()
    assert target.grid == ZED_GRID and 0.6 < frustum.mean() < 0.85  # the 87 deg view from x = 0
    assert np.all(target.invalid[~frustum])
    scored, occupied = ~target.invalid, target.labels == TARGET_LABEL
    assert 50_000 < scored.sum() and 3_000 < (occupied & scored).sum() < 0.2 * scored.sum()
    # the single nearest sweep is one of the accumulated ones: its hits are target voxels
    single = create_occupancy_method("lidar", device="cpu")(stereo_frame(seq, index), ZED_GRID)
    hits = single.state == OCCUPIED
    assert np.all(occupied[hits]) and occupied.sum() > 1.5 * hits.sum()
    # the ground: most occupied voxels lie in the lowest metre below the LiDAR's 1.9 m
    heights = ZED_GRID.axis_centres(2)[np.nonzero(occupied & scored)[2]]
    assert np.mean(heights < -1.2) > 0.2 and np.mean(heights > 3.0) < 0.05


def test_stereo_frame_is_rectified_and_carries_the_deskewed_sweep(seq):
    frame = stereo_frame(seq, seq.held_out[-1])
    assert frame.left.shape == (376, 672, 3) and frame.left.dtype == np.uint8
    assert frame.left_camera.rectified and frame.right_camera.stereo_baseline_term > 0
    ahead = frame.lidar_points[:, 0] > 0
    assert ahead.mean() > 0.3 and np.all(np.abs(frame.lidar_origin) < 1.0)
    # the camera sits ~0.26 m left of the LiDAR, looking along base_link +x
    assert frame.T_grid_camera[1, 3] == pytest.approx(0.26, abs=0.05) and frame.T_grid_camera[0, 2] > 0.99
