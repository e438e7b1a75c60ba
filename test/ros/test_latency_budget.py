"""latency_budget_ms: a set the method cannot answer in time is answered by the default method."""

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter

from depth_completion_ros.datasets.messages import image_to_numpy
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.pipeline.sync import MatchedSet, Stamped
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.depth_completion_node import DepthCompletionNode
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2

CAMERA = CameraModel.from_intrinsics(60.0, 60.0, 31.5, 23.5, 64, 48)


def rig_set(stamp_ns: int) -> tuple[MatchedSet, np.ndarray, np.ndarray]:
    """A synchronized set (image + cloud in the optical frame), its rgb and points."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (CAMERA.height, CAMERA.width, 3), np.uint8)
    points = np.column_stack([rng.uniform(-3, 3, 400), rng.uniform(-2, 2, 400), rng.uniform(5, 20, 400)])
    image = numpy_to_image(rgb, "rgb8", stamp_ns, "camera")
    cloud = xyz_to_pointcloud2(points.astype(np.float32), stamp_ns, "camera")
    return MatchedSet(stamp_ns, {"image": Stamped(stamp_ns, image), "lidar": Stamped(stamp_ns, cloud)}), rgb, points


@pytest.fixture
def learned_node(ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = DepthCompletionNode(context=context, parameter_overrides=[
        Parameter("method", value="learned"), Parameter("latency_budget_ms", value=500.0),
        Parameter("warm_up_size", value=[CAMERA.width, CAMERA.height]),
        Parameter("lidar_to_camera.matrix", value=[float(v) for v in np.eye(4).ravel()]),
    ])
    published = []
    node.pub_depth.publish = published.append
    yield node, published
    node.destroy_node()
    rclpy.shutdown(context=context)


def test_a_set_too_old_for_the_budget_is_answered_by_classical_and_counted(learned_node):
    node, published = learned_node
    node._intake_callback("camera_info")(model_to_camera_info(CAMERA, 0, "camera"))
    now_ns = node.get_clock().now().nanoseconds
    fresh, _, _ = rig_set(now_ns)
    node.process(fresh)  # in time: the network answers
    assert node.budget_fallbacks == 0 and node.engine.stats.frames == 1
    late, rgb, points = rig_set(now_ns - 10 * 10**9)  # 10 s old: over the 500 ms budget
    node.process(late)
    assert node.budget_fallbacks == 1 and node.engine.stats.frames == 1
    assert node.diagnostic_values()["budget_fallbacks"] == 1
    classical = complete_frame(CompletionEngine(), DepthFrame(rgb, CAMERA, points.astype(np.float32), np.eye(4)))
    np.testing.assert_array_equal(np.nan_to_num(image_to_numpy(published[-1])), classical.result.depth)
