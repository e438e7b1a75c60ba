"""Parameters of the depth-completion node: descriptors, start-up checks, runtime changes."""

import pytest
import rclpy
from rclpy.parameter import Parameter

from depth_completion_ros.ros.depth_completion_node import PARAMETERS, DepthCompletionNode


@pytest.fixture
def node(ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = DepthCompletionNode(context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def test_every_parameter_is_declared_with_a_description_and_its_range(node):
    for spec in PARAMETERS:
        descriptor = node.describe_parameter(spec.name)
        assert descriptor.description, spec.name
        if spec.low is not None and isinstance(spec.default, float):
            assert descriptor.floating_point_range[0].from_value == spec.low
        if spec.low is not None and type(spec.default) is int:
            assert descriptor.integer_range[0].to_value == spec.high


def test_runtime_changes_applied_where_safe_and_rejected_with_a_reason(node):
    result = node.set_parameters([Parameter("output_encoding", value="16UC1")])[0]
    assert result.successful and node.params["output_encoding"] == "16UC1"
    result = node.set_parameters([Parameter("queue_size", value=3)])[0]
    assert not result.successful and "fixed at start-up" in result.reason
    result = node.set_parameters([Parameter("output_encoding", value="rgb8")])[0]
    assert not result.successful and "rgb8" in result.reason
    result = node.set_parameters([Parameter("max_depth", value=5000.0)])[0]
    assert not result.successful  # outside [1, 1000]
    before = node.engine
    assert node.set_parameters([Parameter("method", value="ip_basic")])[0].successful
    assert node.engine is not before and node.engine.method == "ip_basic"
    assert node.set_parameters([Parameter("method", value="learned"), Parameter("precision", value="fp32"),
                                Parameter("backend", value="torch")])[0].successful
    assert node.engine.method == "learned" and node.engine.implementation.runner.fp16 is False
    assert node.set_parameters([Parameter("backend", value="auto")])[0].successful
    assert type(node.engine.implementation.runner).__name__ == "OnnxRunner"  # on the CPU


def test_bad_start_up_value_names_the_parameter(ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        with pytest.raises(Exception, match="slop"):
            DepthCompletionNode(context=context, parameter_overrides=[Parameter("slop", value=5.0)])
    finally:
        rclpy.shutdown(context=context)


def test_neither_lidar_nor_radar_is_refused_naming_both_parameters(ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        with pytest.raises(ValueError, match="'use_lidar' and 'use_radar' are both false"):
            DepthCompletionNode(context=context, parameter_overrides=[Parameter("use_lidar", value=False)])
    finally:
        rclpy.shutdown(context=context)


def test_radar_method_gets_precision_and_without_radar(ros_domain_id, radar_checkpoint):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = DepthCompletionNode(context=context, parameter_overrides=[
        Parameter("method", value="radar"), Parameter("weights", value=str(radar_checkpoint)),
        Parameter("device", value="cpu"), Parameter("precision", value="fp32"),
        Parameter("without_radar", value="lidar")])
    try:
        method = node.engine.implementation
        assert node.engine.method == "radar" and method.without_radar == "lidar" and method.runner.fp16 is False
        assert node.set_parameters([Parameter("without_radar", value="camera")])[0].successful
        assert node.engine.implementation.without_radar == "camera"
        assert not node.set_parameters([Parameter("without_radar", value="radar")])[0].successful
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
