"""The shared node base: a set completed before the first CameraInfo waits for it, boundedly."""

import threading
import time

import numpy as np
import pytest
import rclpy

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.depth_completion_node import DepthCompletionNode
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.synchronized_node import FIRST_CAMERA_INFO_WAIT_S

CAMERA = CameraModel.from_intrinsics(50.0, 50.0, 15.5, 11.5, 32, 24)
STAMP_NS = 5 * 10**9


@pytest.fixture
def node(ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = DepthCompletionNode(context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def image_msg():
    return numpy_to_image(np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8), "rgb8", STAMP_NS, "camera")


def test_the_first_camera_info_taken_in_while_a_set_waits_is_used(node):
    info = model_to_camera_info(CAMERA, STAMP_NS, "camera")
    intake = node._intake_callback("camera_info")
    late = threading.Timer(0.2, intake, args=(info,))  # intake runs on another executor thread
    late.start()
    try:
        assert node.camera_info_for("camera_info", image_msg()) is info
    finally:
        late.join()


def test_without_any_camera_info_the_wait_ends_in_bad_input(node):
    start = time.monotonic()
    with pytest.raises(BadInputError, match="no CameraInfo received"):
        node.camera_info_for("camera_info", image_msg())
    assert FIRST_CAMERA_INFO_WAIT_S * 0.9 <= time.monotonic() - start < FIRST_CAMERA_INFO_WAIT_S + 2.0
