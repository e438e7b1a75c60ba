"""use_sim_time with a looping bag: /clock jumps back, the synchronizer resets, outputs resume."""

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.ros.replay import REPLAY_QOS
from depth_completion_ros.ros.shm import clean_zombie_shm
from depth_completion_ros.ros.stamps import stamp_to_ns

sys.path.insert(0, str(Path(__file__).parent))
from diagnostics_wait import diagnostic_values  # noqa: E402
from node_process import start_discovered  # noqa: E402

TOPICS = ["/camera/left/image_rect", "/camera/left/camera_info", "/lidar/points"]


@pytest.mark.slow
def test_looping_bag_with_sim_time_keeps_producing(sim_bag, tmp_path, ros_domain_id):
    with Bag(sim_bag) as bag:
        T = bag.static_transforms().lookup("camera_left_optical_frame", "velodyne")
        sweeps = bag.topics["/lidar/points"][1]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": {
        "input_qos": "reliable", "lidar_to_camera": {"matrix": [float(v) for v in T.ravel()]}}}}))
    dcr = [sys.executable, "-m", "depth_completion_ros.cli.main"]
    log = tmp_path / "node.log"
    node = None
    stamps: list[int] = []
    diagnostics: list[DiagnosticArray] = []
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    replay = None
    listener = rclpy.create_node("sim_time_listener", context=context)
    try:
        sub = listener.create_subscription(Image, "/depth", lambda m: stamps.append(stamp_to_ns(m.header.stamp)),
                                           REPLAY_QOS)
        listener.create_subscription(DiagnosticArray, "/depth_completion/diagnostics", diagnostics.append, 10)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(listener)
        node = start_discovered([*dcr, "run", "--config", str(config), "--use-sim-time", "--remap",
                                 f"image:={TOPICS[0]}", "--remap", f"camera_info:={TOPICS[1]}"], log, executor, [sub])
        replay = subprocess.Popen([*dcr, "replay", str(sim_bag), "--loop", "--wait", "30", "--rate", "0.5",
                                   "--topics", *TOPICS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (len(stamps) > sweeps and stamps[-1] < max(stamps)):
            executor.spin_once(timeout_sec=0.05)
        settle = time.monotonic() + 10  # until a diagnostics tick after the reset has arrived
        while time.monotonic() < settle and not (diagnostics and int(diagnostic_values(diagnostics[-1])["sync_resets"]) >= 1):
            executor.spin_once(timeout_sec=0.05)
    finally:
        # the publishers stop before our reader goes: destroying a reader that a
        # writer is still sending to has deadlocked in Fast DDS
        if replay is not None and replay.poll() is None:
            replay.send_signal(signal.SIGINT)
            try:
                replay.wait(timeout=20)
            except subprocess.TimeoutExpired:  # the replayer's own DDS teardown, not the node under test
                replay.kill()
                replay.wait()
                clean_zombie_shm()
                warnings.warn("dcr replay did not stop within 20 s of SIGINT (killed)", stacklevel=1)
        if node is not None and node.poll() is None:
            node.send_signal(signal.SIGINT)
            node.wait(timeout=20)
        listener.destroy_node()
        rclpy.shutdown(context=context)
    text = log.read_text()
    assert node.returncode == 0 and "Traceback" not in text, text
    restart = next(i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1])  # the bag looped
    assert restart >= 2 and len(stamps) - restart >= 1  # outputs before and after the loop
    values = diagnostic_values(diagnostics[-1])
    assert int(values["sync_resets"]) >= 1, (values, stamps)
