"""Two processes over real Fast DDS: a real KITTI scan arrives bit-identical."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.datasets.messages import pointcloud2_to_array
from depth_completion_ros.ros.stamps import stamp_to_ns

PUBLISHER = Path(__file__).with_name("publish_kitti_scan.py")


@pytest.mark.slow
def test_real_scan_crosses_processes_bit_identical(kitti_object, ros_domain_id):
    scan_path = kitti_object / "velodyne" / "000001.bin"
    publisher = subprocess.Popen([sys.executable, str(PUBLISHER), str(scan_path)], stdout=subprocess.PIPE, text=True)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    received: list[PointCloud2] = []
    try:
        node = rclpy.create_node("scan_receiver", context=context)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(PointCloud2, "lidar/points", received.append, qos)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline and publisher.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        publisher.terminate()
        publisher.wait(timeout=10)
    assert received, "no PointCloud2 received from the publisher process within 60 s"
    msg = received[0]
    assert stamp_to_ns(msg.header.stamp) == 123_000_000_456 and msg.header.frame_id == "velodyne"
    points = pointcloud2_to_array(msg)
    scan = read_velodyne_bin(scan_path)
    assert points.shape == (scan.shape[0],)
    for column, name in enumerate(["x", "y", "z", "intensity"]):
        sent = np.ascontiguousarray(scan[:, column]).view(np.uint32)
        got = np.ascontiguousarray(points[name]).view(np.uint32)
        np.testing.assert_array_equal(got, sent)  # bit-identical, not just close
