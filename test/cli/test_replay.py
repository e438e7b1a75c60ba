"""`dcr replay` publishes a bag's serialized messages unchanged, with /clock."""

import subprocess
import sys
import time

import pytest
import rclpy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import PointCloud2

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.ros.replay import REPLAY_QOS


@pytest.mark.slow
def test_replay_forwards_cdr_bytes_and_publishes_clock(sim_bag, ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    clouds: list[bytes] = []
    clocks: list[Clock] = []
    try:
        node = rclpy.create_node("replay_listener", context=context)
        node.create_subscription(PointCloud2, "/lidar/points", clouds.append, REPLAY_QOS, raw=True)
        node.create_subscription(Clock, "/clock", clocks.append, 10)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        replay = subprocess.Popen([sys.executable, "-m", "depth_completion_ros.cli.main", "replay", str(sim_bag),
                                   "--topics", "/lidar/points", "--wait", "30", "--rate", "2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 90
        while (replay.poll() is None or len(clouds) < 6) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        out, err = replay.communicate(timeout=30)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert replay.returncode == 0, err
    assert "published 6 messages" in out
    with Bag(sim_bag) as bag:
        recorded = [m.raw for m in bag.messages(["/lidar/points"], deserialize=False)]
    assert clouds == recorded  # byte for byte: forwarded, not re-encoded
    assert clocks and clocks[-1].clock.sec >= 1_700_000_000
