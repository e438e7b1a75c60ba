"""``ros/evaluation.py``: the evaluation options a ``dcr eval`` call turns into the node's parameters."""

from __future__ import annotations

from depth_completion_ros.pipeline.engine import DEFAULT_METHOD
from depth_completion_ros.pipeline.node_config import NODE_DEFAULTS
from depth_completion_ros.ros.evaluation import EvalOptions


def test_an_evaluation_without_a_lidar_topic_is_a_radar_camera_rig():
    options = EvalOptions(lidar=None, radar="/radar/points", node_params={"slop": 0.1, "method": "radar"})
    assert options.params["use_lidar"] is False and options.params["use_radar"] is True
    assert options.pivot == options.image and options.params["slop"] == 0.1
    assert options.params["max_depth"] == NODE_DEFAULTS["max_depth"]
    configured_off = EvalOptions(radar="/radar/points", node_params={"use_lidar": False})
    assert configured_off.pivot == configured_off.image
    assert EvalOptions().pivot == "/lidar/points" and EvalOptions().params["method"] == DEFAULT_METHOD
