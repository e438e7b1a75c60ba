"""The node's parameters -> engine, synchronizer and extrinsics, shared by the nodes and ``dcr eval``."""

from __future__ import annotations

import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.pipeline.node_config import (
    camera_info_for_image,
    engine_arguments,
    extrinsics_lookup,
    lidar_free_methods,
    sync_config,
    with_defaults,
)


def test_non_default_parameters_reach_the_engine():
    params = with_defaults({"method": "learned", "precision": "fp32", "max_depth": 50.0, "min_depth": 1.0,
                            "weights": "my.pt", "backend": "torch", "device": "cpu"})
    assert engine_arguments(params) == {"method": "learned", "weights": "my.pt", "device": "cpu", "min_depth": 1.0,
                                        "max_depth": 50.0, "method_params": {"fp16": False, "backend": "torch"}}
    # another method compared under the same file gets the depth range, not the learned weights
    assert engine_arguments(params, "classical") == {"method": "classical", "weights": None, "device": "cpu",
                                                     "min_depth": 1.0, "max_depth": 50.0, "method_params": {}}


def test_radar_methods_get_the_camera_height_and_pitch():
    params = with_defaults({"method": "radar", "camera_height": 1.2, "camera_pitch_deg": 3.0, "without_radar": "lidar"})
    assert engine_arguments(params)["method_params"] == {"fp16": True, "without_radar": "lidar", "camera_height": 1.2,
                                                         "pitch_deg": 3.0}
    assert engine_arguments(with_defaults({"method": "radar_geometric"}))["method_params"] == {"pitch_deg": 0.0}
    assert {"radar", "radar_geometric"} <= set(lidar_free_methods()) and "classical" not in lidar_free_methods()
    engine = CompletionEngine(**engine_arguments(with_defaults({"method": "radar_geometric", "camera_height": 1.2})))
    assert engine.implementation.camera_height_m == 1.2


def test_sync_follows_the_lidar_or_each_image_on_a_radar_camera_rig():
    lidar_rig = sync_config(with_defaults({"use_radar": True, "slop": 0.02, "queue_size": 4}))
    assert (lidar_rig.pivot, lidar_rig.required, lidar_rig.optional, lidar_rig.awaited) == \
        ("lidar", ("image",), ("radar",), ())
    assert (lidar_rig.slop_ns, lidar_rig.queue_size) == (20_000_000, 4)
    radar_rig = sync_config(with_defaults({"use_lidar": False, "use_radar": True}))
    assert (radar_rig.pivot, radar_rig.required, radar_rig.awaited) == ("image", (), ("radar",))


def test_extrinsics_come_from_the_tree_then_a_matrix_or_xyz_quaternion_parameter():
    shifted = np.eye(4)
    shifted[:3, 3] = [0.1, -0.2, 0.3]
    params = {"lidar_to_camera.xyz": [0.1, -0.2, 0.3], "lidar_to_camera.quaternion": [0.0, 0.0, 0.0, 1.0],
              "radar_to_camera.matrix": shifted.ravel().tolist()}
    known = {("camera", "lidar_top"): 2 * np.eye(4)}
    lookup = extrinsics_lookup(params, "depth_completion", lambda target, source: known.get((target, source)))
    np.testing.assert_array_equal(lookup("lidar", "camera", "lidar_top"), 2 * np.eye(4))  # the tree wins
    np.testing.assert_allclose(lookup("lidar", "camera", "velodyne"), shifted)  # xyz + quaternion
    np.testing.assert_allclose(lookup("radar", "camera", "radar_front"), shifted)  # matrix
    grid = extrinsics_lookup({"camera_to_grid.matrix": shifted.ravel().tolist()}, "stereo_occupancy")
    np.testing.assert_allclose(grid("camera", "base_link", "left_optical"), shifted)


def test_a_missing_or_malformed_extrinsic_names_the_parameters():
    lookup = extrinsics_lookup({}, "depth_completion")
    with pytest.raises(BadInputError, match=r"camera <- velodyne.*'lidar_to_camera.matrix'.*'lidar_to_camera.xyz'"):
        lookup("lidar", "camera", "velodyne")
    with pytest.raises(BadInputError, match="lidar_to_camera"):
        extrinsics_lookup({"lidar_to_camera.matrix": [1.0, 2.0]}, "depth_completion")


def test_the_camera_info_of_an_image_is_the_one_with_its_stamp_else_the_latest():
    from types import SimpleNamespace

    def message(stamp: int, tag: str = "") -> SimpleNamespace:
        return SimpleNamespace(header=SimpleNamespace(stamp=stamp), tag=tag)

    infos = [message(1, "a"), message(2, "b"), message(3, "c")]
    assert camera_info_for_image(infos, message(2)) == (infos[1], True)
    assert camera_info_for_image(infos, message(9)) == (infos[2], False)
    with pytest.raises(BadInputError, match="no CameraInfo received on 'left/camera_info'"):
        camera_info_for_image([], message(1), "left/camera_info")
