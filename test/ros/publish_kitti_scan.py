"""Helper process for test_dds_transport: publishes one real KITTI scan as PointCloud2.

Usage: python publish_kitti_scan.py SCAN.bin   (ROS_DOMAIN_ID from the environment)
Publishes with transient-local durability, so a late subscriber still gets it, then keeps
the node alive until killed or 60 s pass.
"""

import sys
import time

import numpy as np
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2

QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def main() -> None:
    scan = read_velodyne_bin(sys.argv[1])
    rclpy.init()
    node = rclpy.create_node("kitti_scan_publisher")
    try:
        publisher = node.create_publisher(PointCloud2, "lidar/points", QOS)
        publisher.publish(xyz_to_pointcloud2(scan[:, :3], 123_000_000_456, "velodyne", intensity=scan[:, 3]))
        print("published", flush=True)
        deadline = time.monotonic() + 60
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
