"""The DGP (DDAD-style) protocol: poses, densities, and the real scenes when the snapshot is present."""

import numpy as np
import pytest

from depth_completion_ros.datasets.dgp_protocol import build_dgp_protocol, find_dgp, pose_matrix
from depth_completion_ros.errors import BadInputError


def test_a_dgp_pose_is_world_from_sensor():
    quarter_turn = {"rotation": {"qw": np.sqrt(0.5), "qx": 0.0, "qy": 0.0, "qz": np.sqrt(0.5)},
                    "translation": {"x": 1.0, "y": 2.0, "z": 3.0}}
    T = pose_matrix(quarter_turn)
    np.testing.assert_allclose(T @ [1.0, 0.0, 0.0, 1.0], [1.0, 3.0, 3.0, 1.0], atol=1e-12)  # x turns into y


def test_unknown_density_and_empty_folder_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="'eighth' is not one of"):
        build_dgp_protocol(tmp_path, "eighth")
    with pytest.raises(BadInputError, match="no scene_"):
        build_dgp_protocol(tmp_path, "half")


@pytest.mark.skipif(find_dgp() is None, reason="DGP test scenes not extracted (see datasets/dgp_protocol.py)")
def test_the_real_scenes_give_every_camera_image_an_input_and_a_ground_truth():
    frames = build_dgp_protocol(find_dgp(), "quarter")
    assert len(frames) == 27  # scene 1: 3 samples x 3 cameras; scene 2: 3 x 6
    for f in frames:
        assert f.frame.rgb.shape == (608, 968, 3)
        sparse, truth = f.frame.sparse, f.ground_truth
        assert (sparse > 0).sum() > 500 and (truth > 0).sum() > 2 * (sparse > 0).sum() * 0.9
        assert np.median(sparse[sparse > 0]) < 60  # metres: the points landed where the camera looks
