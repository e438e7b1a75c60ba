"""The shared node base: CameraInfo lookup (a set may complete before its CameraInfo is in) and drop logs."""

import threading
import time

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.depth_completion_node import DepthCompletionNode
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.pipeline.sync import MatchedSet
from depth_completion_ros.ros.synchronized_node import CAMERA_INFO_STAMP_WAIT_S, FIRST_CAMERA_INFO_WAIT_S

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


def test_a_set_waits_briefly_for_the_camera_info_with_its_own_stamp(node):
    intake = node._intake_callback("camera_info")
    intake(model_to_camera_info(CAMERA, STAMP_NS, "camera"))
    assert node.camera_info_for("camera_info", image_msg()).header.stamp == image_msg().header.stamp
    later_ns = STAMP_NS + 100_000_000
    later_image = numpy_to_image(np.zeros((CAMERA.height, CAMERA.width, 3), np.uint8), "rgb8", later_ns, "camera")
    own = model_to_camera_info(CAMERA, later_ns, "camera")
    late = threading.Timer(0.03, intake, args=(own,))  # the set completed before its CameraInfo came in
    late.start()
    try:
        assert node.camera_info_for("camera_info", later_image) is own
    finally:
        late.join()


def test_camera_infos_without_image_stamps_are_used_without_waiting(node):
    info = model_to_camera_info(CAMERA, 0, "camera")  # a driver that stamps its CameraInfo once
    node._intake_callback("camera_info")(info)
    for _ in range(2):
        start = time.monotonic()
        assert node.camera_info_for("camera_info", image_msg()) is info
        assert time.monotonic() - start < CAMERA_INFO_STAMP_WAIT_S * 0.5


def test_every_drop_reason_is_logged_once_per_burst_with_its_counter(node):
    lines = []
    node.warn = lambda kind, text: lines.append((kind, text)) or True  # every line logged
    ms = 1_000_000
    for stamp in (0, 100, 200):
        node.sync.add("image", stamp * ms)
    node.sync.add("lidar", 130 * ms)  # 30 ms from its nearest image, slop 50 ms: matched
    node.sync.add("lidar", 330 * ms)
    node.sync.add("image", 400 * ms)  # 70 ms from 330: no partner
    node.sync.add("image", 50 * ms)  # older than the newest image: too old
    for i in range(node.work_queue.capacity + 2):
        node.work_queue.put(MatchedSet(i, {}))
    node._log_new_drops()
    node._on_clock_jump(None)
    kinds = [kind for kind, _ in lines]
    assert kinds == ["drop too_old", "drop no_partner", "drop skipped_busy", "drop sync_resets"]
    text = dict(lines)
    assert "drops.no_partner, 1 in all" in text["drop no_partner"] and "'lidar'" in text["drop no_partner"]
    assert "skipped 2 synchronized set(s)" in text["drop skipped_busy"]
    assert "time went backwards" in text["drop sync_resets"]
    node._log_new_drops()
    assert len(lines) == 4  # nothing new, nothing logged


def test_the_silent_input_clock_starts_when_the_node_is_ready(ros_domain_id, monkeypatch):
    """Loading and warming up a network can take longer than no_input_warning: no input may
    be called silent right after start-up."""
    warm_up = DepthCompletionNode._warm_up

    def slow_warm_up(node, size):  # a model load and warm-up of 0.7 s
        time.sleep(0.7)
        warm_up(node, size)

    monkeypatch.setattr(DepthCompletionNode, "_warm_up", slow_warm_up)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = DepthCompletionNode(context=context, parameter_overrides=[Parameter("no_input_warning", value=0.5)])
    try:
        assert node._silent_inputs() == []
        time.sleep(0.6)
        assert node._silent_inputs() == ["no input on image, camera_info, lidar/points"]
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_a_throttled_drop_line_is_counted_into_the_next_one(node):
    node.warn = lambda kind, text: False  # throttled: nothing shown
    for i in range(node.work_queue.capacity + 1):
        node.work_queue.put(MatchedSet(i, {}))
    node._log_new_drops()  # throttled: 1 skipped, not shown
    node.work_queue.put(MatchedSet(99, {}))
    lines = []
    node.warn = lambda kind, text: lines.append(text) or True
    node._log_new_drops()
    assert len(lines) == 1 and "skipped 2 synchronized set(s)" in lines[0]
