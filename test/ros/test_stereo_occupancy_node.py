"""The stereo occupancy node in `dcr run`, fed a simulated bag over real DDS."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import OccupancyGrid
from sensor_msgs.msg import PointCloud2
from stereo_msgs.msg import DisparityImage

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.messages import camera_info_to_model, image_to_rgb, pointcloud2_to_array
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.occupancy import occupied_voxels
from depth_completion_ros.pipeline.occupancy_methods import SgbmOccupancy, StereoFrame
from depth_completion_ros.ros.replay import REPLAY_QOS, BagReplayer
from depth_completion_ros.ros.stamps import stamp_to_ns
from depth_completion_ros.stereo.matching import StereoParams, compute_disparity

sys.path.insert(0, str(Path(__file__).parent))
from diagnostics_wait import diagnostic_values, settle_until_counters_rest  # noqa: E402
from node_process import start_discovered  # noqa: E402

pytestmark = pytest.mark.slow
LEFT, RIGHT = "/camera/left", "/camera/right"
STEREO_TOPICS = [f"{LEFT}/image_rect", f"{LEFT}/camera_info", f"{RIGHT}/image_rect", f"{RIGHT}/camera_info"]
DEPTH_TOPICS = [f"{LEFT}/image_rect", f"{LEFT}/camera_info", "/lidar/points"]


def grid_params(rig: Path) -> dict:
    occupancy = yaml.safe_load(rig.read_text())["occupancy"]
    return {"frame_id": "velodyne", "origin": [float(v) for v in occupancy["origin"]],
            "resolution": float(occupancy["resolution"]), "shape": [int(v) for v in occupancy["shape"]]}


def run_pipeline(bag_path: Path, config: dict, remaps: list[str], topics: list[str], tmp_path: Path, domain: int):
    """Start `dcr run` with ``config``, replay ``topics``; returns what the test heard."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "depth_completion_ros.cli.main", "run", "--config", str(path)]
    for remap in remaps:
        command += ["--remap", remap]
    log = tmp_path / "node.log"
    heard = {"points": {}, "grid": [], "disparity": [], "diagnostics": []}
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    listener = rclpy.create_node("listener", context=context)
    node_process = None
    try:
        subs = [
            listener.create_subscription(PointCloud2, "/occupancy/points",
                                         lambda m: heard["points"].setdefault(stamp_to_ns(m.header.stamp), m), REPLAY_QOS),
            listener.create_subscription(OccupancyGrid, "/occupancy/grid", heard["grid"].append, REPLAY_QOS),
        ]
        listener.create_subscription(DisparityImage, "/disparity", heard["disparity"].append, REPLAY_QOS)
        listener.create_subscription(DiagnosticArray, "/stereo_occupancy/diagnostics", heard["diagnostics"].append, 10)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(listener)
        node_process = start_discovered(command, log, executor, subs)
        with Bag(bag_path) as bag:
            replayer = BagReplayer(listener, bag, topics, rate=0.5, publish_clock=False)
            assert replayer.wait_for_subscribers(topics, timeout_s=30), log.read_text()
            time.sleep(0.5)
            stop = threading.Event()
            spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02)
                                                       for _ in iter(stop.is_set, True)])
            spinner.start()
            replayer.play()
            stop.set()
            spinner.join(5)
        settle_until_counters_rest(executor, heard["diagnostics"], minimum_s=3.0)
    finally:
        alive = node_process is not None and node_process.poll() is None
        if node_process is not None:
            node_process.send_signal(signal.SIGINT)
            node_process.wait(timeout=20)
        # the node's writers stop before our readers go (see test_depth_completion_node)
        listener.destroy_node()
        rclpy.shutdown(context=context)
    text = log.read_text()
    assert alive and node_process.returncode == 0 and "Traceback" not in text, text
    return heard


def skipped(heard) -> int:
    return int(diagnostic_values(heard["diagnostics"][-1])["drops.skipped_busy"])


def test_stereo_occupancy_matches_the_pipeline(sim_bag, small_rig_file, tmp_path, ros_domain_id):
    grid = grid_params(small_rig_file)
    with Bag(sim_bag) as bag:
        T_grid_camera = bag.static_transforms().lookup("velodyne", "camera_left_optical_frame")
        pairs = {}
        for m in bag.messages(STEREO_TOPICS):
            pairs.setdefault(m.stamp_ns, {})[m.topic] = m.msg
    params = {"input_qos": "reliable", "grid": grid, "camera_to_grid": {"matrix": [float(v) for v in T_grid_camera.ravel()]},
              "band_min_z": 0.0, "band_max_z": 1.6, "num_disparities": 64}
    remaps = [f"left/image_rect:={LEFT}/image_rect", f"left/camera_info:={LEFT}/camera_info",
              f"right/image_rect:={RIGHT}/image_rect", f"right/camera_info:={RIGHT}/camera_info"]
    heard = run_pipeline(sim_bag, {"stereo_occupancy": {"ros__parameters": params}}, remaps, STEREO_TOPICS,
                         tmp_path, ros_domain_id)
    assert len(heard["points"]) + skipped(heard) == len(pairs) and heard["points"]
    assert len(heard["disparity"]) == len(heard["points"])
    grid_msg = heard["grid"][-1]
    assert (grid_msg.info.width, grid_msg.info.height) == tuple(grid["shape"][:2])
    assert set(np.asarray(grid_msg.data).tolist()) <= set(range(-1, 101))
    # one code path: the published voxels are those of the pipeline called on the same arrays
    stamp, msg = sorted(heard["points"].items())[0]
    pair = pairs[stamp]
    left_cam = camera_info_to_model(pair[f"{LEFT}/camera_info"])
    right_cam = camera_info_to_model(pair[f"{RIGHT}/camera_info"])
    left, right = image_to_rgb(pair[f"{LEFT}/image_rect"]), image_to_rgb(pair[f"{RIGHT}/image_rect"])
    frame = StereoFrame(left, right, left_cam, right_cam, T_grid_camera)
    stereo = StereoParams(num_disparities=64)
    method = SgbmOccupancy(params=stereo, device="cpu")
    expected = method.from_disparity(compute_disparity(left, right, left_cam, right_cam, stereo), frame,
                                     VoxelGrid(origin=tuple(grid["origin"]), resolution=grid["resolution"],
                                               shape=tuple(grid["shape"]), frame_id="velodyne"))
    centres, _, _ = occupied_voxels(expected)
    got = pointcloud2_to_array(msg)
    assert got.shape[0] == centres.shape[0] > 0
    np.testing.assert_allclose(np.column_stack([got["x"], got["y"], got["z"]]), centres, atol=1e-5)


def test_perception_pipeline_occupancy_from_completed_depth(sim_bag, small_rig_file, tmp_path, ros_domain_id):
    """depth_completion + stereo_occupancy (source: depth) in one `dcr run` process."""
    grid = grid_params(small_rig_file)
    with Bag(sim_bag) as bag:
        tree = bag.static_transforms()
        T_grid_camera = tree.lookup("velodyne", "camera_left_optical_frame")
        T_camera_lidar = tree.lookup("camera_left_optical_frame", "velodyne")
        sweeps = bag.topics["/lidar/points"][1]
    config = {
        "depth_completion": {"ros__parameters": {
            "input_qos": "reliable", "lidar_to_camera": {"matrix": [float(v) for v in T_camera_lidar.ravel()]}}},
        "stereo_occupancy": {"ros__parameters": {
            "source": "depth", "input_qos": "reliable", "grid": grid,
            "camera_to_grid": {"matrix": [float(v) for v in T_grid_camera.ravel()]}}},
    }
    remaps = [f"image:={LEFT}/image_rect", f"camera_info:={LEFT}/camera_info"]
    heard = run_pipeline(sim_bag, config, remaps, DEPTH_TOPICS, tmp_path, ros_domain_id)
    assert heard["points"] and len(heard["points"]) <= sweeps
    assert all(pointcloud2_to_array(m).shape[0] > 0 for m in heard["points"].values())
    assert heard["disparity"] == []  # the depth source publishes no disparity
