import json

import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import OCCUPIED, VoxelGrid
from depth_completion_ros.models.checkpoint import read_checkpoint
from depth_completion_ros.models.occupancy import KIND, OccDepthConfig, load_occdepth
from depth_completion_ros.pipeline.occupancy_methods import DEFAULT_WEIGHTS, StereoFrame, create_occupancy_method


def test_shipped_weights_load_match_their_card_and_fit_the_size_budget():
    assert DEFAULT_WEIGHTS.stat().st_size <= 30 * 2**20
    model = load_occdepth(str(DEFAULT_WEIGHTS))
    card = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert read_checkpoint(DEFAULT_WEIGHTS)["kind"] == KIND
    assert OccDepthConfig.from_dict(card["config"]) == model.config
    assert model.config.grid_shape == (128, 128, 16)
    assert "dcr train occupancy --config config/train/occupancy_cpu.yaml" in card["reproduce"]


def random_stereo_frame() -> StereoFrame:
    """A KITTI-like rectified pair (the network's 416x128 input) of one random image."""
    width, height = 416, 128
    K = [[240.0, 0, 207.5], [0, 240.0, 63.5], [0, 0, 1]]
    left = CameraModel(width, height, K, P=np.hstack([K, [[0], [0], [0]]]))
    right = CameraModel(width, height, K, P=np.hstack([K, [[-240.0 * 0.54], [0], [0]]]))
    T_lidar_camera = np.array([[0, 0, 1, 0.27], [-1, 0, 0, 0], [0, -1, 0, -0.08], [0, 0, 0, 1]], float)
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return StereoFrame(image, image, left, right, T_lidar_camera)


def test_learned_method_upsamples_to_the_semantic_kitti_grid_on_the_cpu():
    grid = create_occupancy_method("occdepth", device="cpu")(random_stereo_frame(), VoxelGrid())
    assert grid.state.shape == (256, 256, 32) and grid.labels.shape == (256, 256, 32)
    occupied = grid.state == OCCUPIED
    assert np.all(grid.labels[occupied] > 0) and np.all(grid.labels[~occupied] == 0)
    # nearest upsampling by 2: every 2x2x2 block is uniform
    blocks = grid.labels.reshape(128, 2, 128, 2, 16, 2)
    assert np.all(blocks == blocks[:, :1, :, :1, :, :1])


@pytest.mark.slow
def test_learned_method_runs_natively_on_the_full_grid():
    """The GPU default (the network on the requested grid itself), run here on the CPU: the
    full SemanticKITTI grid is a code path of its own (no upsampling), ~7 s and 1.6 GB."""
    grid = create_occupancy_method("occdepth", device="cpu", native_grid=True)(random_stereo_frame(), VoxelGrid())
    assert grid.state.shape == (256, 256, 32)
    blocks = grid.labels.reshape(128, 2, 128, 2, 16, 2)
    assert not np.all(blocks == blocks[:, :1, :, :1, :, :1])  # not an upsampled 0.4 m answer


def test_learned_method_answers_an_aligned_sub_box_with_the_crop_of_its_full_answer():
    """A short-baseline rig's grid (the near quarter of the SemanticKITTI box, as the ZED grid
    of datasets/radiate.py) is cut from the upsampled answer; a misaligned box is refused."""
    method = create_occupancy_method("occdepth", device="cpu")
    frame = random_stereo_frame()
    full = method(frame, VoxelGrid())
    near = method(frame, VoxelGrid(origin=(0.0, -12.8, -2.0), resolution=0.2, shape=(128, 128, 32)))
    np.testing.assert_array_equal(near.labels, full.labels[:128, 64:192])
    np.testing.assert_array_equal(near.state, full.state[:128, 64:192])
    with pytest.raises(BadInputError, match="aligned box"):
        method(frame, VoxelGrid(origin=(0.1, -12.8, -2.0), resolution=0.2, shape=(128, 128, 32)))
