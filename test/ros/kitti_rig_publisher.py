"""Fixture process: publishes the real KITTI object frames as a live camera + LiDAR (+ radar)
rig, at realistic rates with stamp jitter, for the node tests.

Usage:
    python kitti_rig_publisher.py --data DIR --frames N --scenario NAME [--rate HZ] [--radar]

Scenarios:
    good          every frame well-formed;
    radar_dropout radar stops after half the frames (use with --radar);
    time_jump     after half the frames the stamps restart 20 s earlier (a looping bag);
    bad_inputs    every other frame is broken in one way (wrong encoding, image size
                  different from its CameraInfo, all-zero K, truncated cloud, NaN/Inf
                  points, empty cloud, no point in the camera's view).

Each cloud is stamped within +-5 ms of its image, in both orders (as a real LiDAR and
camera are), and every other frame publishes the cloud before the image.

It waits until the node under test subscribes and publishes ``depth``, then prints one
JSON line per LiDAR sweep: {"stamp_ns", "frame", "case", "expect_output"} (the image stamp).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.kitti_calib import load_object_calib
from depth_completion_ros.geometry.transforms import compose, invert_transform, transform_points
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.pointcloud import array_to_pointcloud2, xyz_to_pointcloud2

BAD_CASES = ("wrong_encoding", "image_size_mismatch", "zero_k", "truncated_cloud", "nonfinite_points", "empty_cloud",
             "no_projection")
CAMERA_FRAME, LIDAR_FRAME = "camera_optical_frame", "velodyne"
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TEARDOWN_LIMIT_S = 15.0
TEARDOWN_HUNG = f"Timeout (0:00:{TEARDOWN_LIMIT_S:02.0f})!"  # faulthandler's first line
NODE_NOT_DISCOVERED = "the node under test did not appear"  # how a failed discovery ends (retried)


def load_frames(root: Path) -> list[dict]:
    """The three KITTI frames as one rig: rgb, camera model, scan, T_camera_lidar.

    The frames come from drives with different LiDAR extrinsics; each scan is re-expressed
    so that frame 0's extrinsic is right for all of them (one rig, one parameter).
    """
    frames = []
    T_rig = None
    for name in ("000000", "000001", "000002"):
        calib = load_object_calib(root / "calib" / f"{name}.txt")
        rgb = cv2.cvtColor(cv2.imread(str(root / "image_2" / f"{name}.png")), cv2.COLOR_BGR2RGB)
        scan = read_velodyne_bin(root / "velodyne" / f"{name}.bin")
        T_rig = calib.T_cam0_velo if T_rig is None else T_rig
        scan[:, :3] = transform_points(compose(invert_transform(T_rig), calib.T_cam0_velo), scan[:, :3])
        frames.append({"rgb": rgb, "camera": calib.camera(2, rgb.shape[1], rgb.shape[0]), "scan": scan,
                       "T_camera_lidar": T_rig})
    return frames


def messages_for(frame: dict, case: str, stamp_ns: int, cloud_offset_ns: int) -> tuple[CameraInfo, Image, PointCloud2]:
    """CameraInfo, Image and cloud (stamped ``cloud_offset_ns`` after the image) for one
    sweep, broken as ``case`` says."""
    camera: CameraModel = frame["camera"]
    info = model_to_camera_info(camera, stamp_ns, CAMERA_FRAME)
    image = numpy_to_image(frame["rgb"], "rgb8", stamp_ns, CAMERA_FRAME)
    scan = frame["scan"]
    if case == "wrong_encoding":
        image = numpy_to_image(frame["rgb"][..., 0].astype(np.float32), "32FC1", stamp_ns, CAMERA_FRAME)
    elif case == "image_size_mismatch":
        info.width, info.height = 640, 480
    elif case == "zero_k":
        info.k = [0.0] * 9
    elif case == "nonfinite_points":
        scan = scan.copy()
        scan[::3, 0] = np.nan
        scan[1::7, 2] = np.inf
    elif case == "empty_cloud":
        scan = scan[:0]
    elif case == "no_projection":  # every point behind the camera (wrong extrinsics look like this)
        scan = scan.copy()
        scan[:, 0] = -np.abs(scan[:, 0]) - 1.0
    cloud = xyz_to_pointcloud2(scan[:, :3], stamp_ns + cloud_offset_ns, LIDAR_FRAME, intensity=scan[:, 3])
    if case == "truncated_cloud":
        cloud.data = bytes(cloud.data)[: len(cloud.data) // 2]
    return info, image, cloud


def radar_like(scan: np.ndarray, rng: np.random.Generator, count: int = 150) -> np.ndarray:
    """A radar-like cloud (x, y, z, rcs, vx, vy) sampled from a LiDAR scan, in its frame."""
    picked = scan[rng.choice(scan.shape[0], count, replace=False)]
    radar = np.zeros(count, dtype=[(n, "<f4") for n in ("x", "y", "z", "rcs", "vx", "vy")])
    radar["x"], radar["y"], radar["z"] = picked[:, 0], picked[:, 1], picked[:, 2]
    radar["rcs"] = rng.uniform(-5, 20, count)
    return radar


def wait_for_node(node, publishers, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = all(p.get_subscription_count() > 0 for p in publishers) and node.count_publishers("depth") > 0
        if ready:
            time.sleep(1.0)  # let the node's publishers match the test's subscribers too
            return
        rclpy.spin_once(node, timeout_sec=0.1)
    unmatched = [p.topic_name for p in publishers if p.get_subscription_count() == 0]
    # the DDS teardown after a failed discovery has hung: bound it as after a run
    faulthandler.dump_traceback_later(TEARDOWN_LIMIT_S, exit=True)
    raise SystemExit(f"{NODE_NOT_DISCOVERED} within {timeout_s:.0f} s (no subscriber on {unmatched}; "
                     f"'depth' publishers seen: {node.count_publishers('depth')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the kitti_object folder")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--rate", type=float, default=5.0, help="LiDAR sweeps per second")
    parser.add_argument("--scenario", default="good", choices=("good", "radar_dropout", "time_jump", "bad_inputs"))
    parser.add_argument("--radar", action="store_true", help="also publish radar/points at ~13 Hz")
    args = parser.parse_args()

    frames = load_frames(args.data)
    rng = np.random.default_rng(0)
    rclpy.init()
    node = rclpy.create_node("kitti_rig_publisher")
    pub_info = node.create_publisher(CameraInfo, "camera_info", QOS)
    pub_image = node.create_publisher(Image, "image", QOS)
    pub_lidar = node.create_publisher(PointCloud2, "lidar/points", QOS)
    pub_radar = node.create_publisher(PointCloud2, "radar/points", QOS)
    wait_for_node(node, [pub_info, pub_image, pub_lidar])

    period_ns = int(1e9 / args.rate)
    base_ns = time.time_ns()
    radar_next_ns = base_ns
    manifest = []
    for k in range(args.frames):
        case = "good"
        if args.scenario == "bad_inputs" and k % 2 == 1:
            case = BAD_CASES[(k // 2) % len(BAD_CASES)]
        offset_ns = k * period_ns
        if args.scenario == "time_jump" and k >= args.frames // 2:
            offset_ns -= 20_000_000_000
        stamp_ns = base_ns + offset_ns + int(rng.uniform(-3e6, 3e6))
        frame = frames[k % len(frames)]
        cloud_offset_ns = int(rng.uniform(0.5e6, 5e6)) * (1 if k % 4 < 2 else -1)
        info, image, cloud = messages_for(frame, case, stamp_ns, cloud_offset_ns)
        pub_info.publish(info)
        if k % 2:
            pub_lidar.publish(cloud)
            pub_image.publish(image)
        else:
            pub_image.publish(image)
            pub_lidar.publish(cloud)
        radar_on = args.radar and not (args.scenario == "radar_dropout" and k >= args.frames // 2)
        while radar_on and radar_next_ns <= base_ns + (k + 1) * period_ns:
            radar_stamp_ns = radar_next_ns + offset_ns - k * period_ns  # same clock jump as the sweep
            pub_radar.publish(array_to_pointcloud2(radar_like(frame["scan"], rng), radar_stamp_ns, LIDAR_FRAME))
            radar_next_ns += int(1e9 / 13)
        manifest.append({"stamp_ns": stamp_ns, "frame": k % len(frames), "case": case,
                         "expect_output": case in ("good", "nonfinite_points")})
        time.sleep(max(0.0, (base_ns + (k + 1) * period_ns - time.time_ns()) / 1e9))
    for entry in manifest:
        print(json.dumps(entry), flush=True)
    for publisher in (pub_info, pub_image, pub_lidar, pub_radar):
        publisher.wait_for_all_acked(Duration(seconds=5))
    # Fast DDS teardown has hung here on a loaded machine (rarely, for minutes): after
    # TEARDOWN_LIMIT_S, dump every thread's stack to stderr and exit with code 1, so the
    # test can tell a hung fixture from a missing frame (see run_node)
    faulthandler.dump_traceback_later(TEARDOWN_LIMIT_S, exit=True)
    node.destroy_node()
    rclpy.try_shutdown()
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    main()
