"""End-to-end ROS latency of the depth-completion node, across processes, over Fast DDS.

KITTI-size frames (1242x375 rgb8 image + CameraInfo + ~120k-point cloud) are published at
10 Hz from this process; the node runs in another process with the classical method; its
``depth`` output is received back here. For each Fast DDS transport configuration
(default, LARGE_DATA) it prints the latency stamp -> received output (median, p95),
throughput and drops, and the ROS overhead: latency minus the pipeline's own time
(``complete_frame`` on the same frame, measured in this run).

Run: .venv/bin/python benchmarks/bench_ros.py [--frames 100] [--rate 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import REPO, device_name, median_ms, print_header, shared_data

from depth_completion_ros.geometry.camera import CameraModel

TRANSPORTS = {"default": None, "LARGE_DATA": "LARGE_DATA"}


def kitti_frame() -> tuple[np.ndarray, CameraModel, np.ndarray, np.ndarray]:
    """rgb, camera, scan (N, 4), T_camera_lidar of KITTI 000001 (synthetic if no data)."""
    import cv2

    from depth_completion_ros.datasets.kitti import read_velodyne_bin
    from depth_completion_ros.geometry.kitti_calib import load_object_calib

    data = shared_data()
    if data is None:
        rng = np.random.default_rng(0)
        scan = np.column_stack([rng.uniform(5, 60, 120_000), rng.uniform(-20, 20, (120_000, 2)),
                                rng.random(120_000)]).astype(np.float32)
        T = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
        camera = CameraModel.from_intrinsics(721.5, 721.5, 609.6, 172.9, 1242, 375)
        return rng.integers(0, 255, (375, 1242, 3), dtype=np.uint8), camera, scan, T
    root = data / "kitti_object"
    calib = load_object_calib(root / "calib" / "000001.txt")
    rgb = cv2.cvtColor(cv2.imread(str(root / "image_2" / "000001.png")), cv2.COLOR_BGR2RGB)
    return rgb, calib.camera(2, rgb.shape[1], rgb.shape[0]), read_velodyne_bin(root / "velodyne" / "000001.bin"), calib.T_cam0_velo


def drive(frames: int, rate: float) -> dict:
    """In a child process with the transport env already set: start the node, publish,
    collect the outputs; returns latencies (ms) and counts."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from depth_completion_ros.ros.camera_info import model_to_camera_info
    from depth_completion_ros.ros.image import numpy_to_image
    from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2
    from depth_completion_ros.ros.stamps import stamp_to_ns

    rgb, camera, scan, T = kitti_frame()
    matrix = ",".join(repr(float(v)) for v in T.ravel())
    node = subprocess.Popen(
        [sys.executable, "-m", "depth_completion_ros.ros.depth_completion_node", "--ros-args",
         "-p", "input_qos:=reliable", "-p", f"lidar_to_camera.matrix:=[{matrix}]"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    rclpy.init()
    driver = rclpy.create_node("bench_ros_driver")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = [driver.create_publisher(t, n, qos) for t, n in ((CameraInfo, "camera_info"), (Image, "image"),
                                                            (PointCloud2, "lidar/points"))]
    received: dict[int, float] = {}
    sub = driver.create_subscription(Image, "depth", lambda m: received.setdefault(stamp_to_ns(m.header.stamp),
                                                                                     time.time_ns()), qos)
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(driver)
    deadline = time.monotonic() + 60
    while (sub.get_publisher_count() == 0 or any(p.get_subscription_count() == 0 for p in pubs)) \
            and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    time.sleep(1.0)
    sent = []
    period = 1.0 / rate
    start = time.monotonic()
    for k in range(frames + 5):  # 5 warm-up frames, not counted
        stamp = time.time_ns()
        pubs[0].publish(model_to_camera_info(camera, stamp, "camera_optical_frame"))
        pubs[1].publish(numpy_to_image(rgb, "rgb8", stamp, "camera_optical_frame"))
        pubs[2].publish(xyz_to_pointcloud2(scan[:, :3], stamp, "velodyne", intensity=scan[:, 3]))
        if k >= 5:
            sent.append(stamp)
        while time.monotonic() < start + (k + 1) * period:
            executor.spin_once(timeout_sec=max(0.0, min(0.005, start + (k + 1) * period - time.monotonic())))
    settle = time.monotonic() + 2.0
    while time.monotonic() < settle:
        executor.spin_once(timeout_sec=0.05)
    node.send_signal(2)
    node.wait(timeout=20)
    driver.destroy_node()
    rclpy.try_shutdown()
    latencies = [(received[s] - s) / 1e6 for s in sent if s in received]
    return {"sent": len(sent), "received": len(latencies), "latency_ms": latencies,
            "duration_s": frames / rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100, help="frames per transport (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second (default: %(default)s)")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(args.frames, args.rate)))
        return

    print_header(f"bench_ros: depth completion node, {args.frames} KITTI-size frames at {args.rate:g} Hz across processes")
    from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
    from depth_completion_ros.pipeline.engine import CompletionEngine

    rgb, camera, scan, T = kitti_frame()
    engine = CompletionEngine()
    frame = DepthFrame(rgb, camera, scan[:, :3], T)
    pipeline_ms = median_ms(lambda: complete_frame(engine, frame), repeats=20)
    print(f"pipeline alone (complete_frame, in-process, classical): median {pipeline_ms:.1f} ms")
    for name, value in TRANSPORTS.items():
        env = {k: v for k, v in os.environ.items() if k != "FASTDDS_BUILTIN_TRANSPORTS"}
        if value:
            env["FASTDDS_BUILTIN_TRANSPORTS"] = value
        env["ROS_DOMAIN_ID"] = str(150 + len(name) % 50)
        result = subprocess.run([sys.executable, __file__, "--drive", "--frames", str(args.frames), "--rate",
                                 str(args.rate)], env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
        if result.returncode != 0:
            print(f"{name}: driver failed: {result.stderr[-2000:]}")
            continue
        stats = json.loads(result.stdout.strip().splitlines()[-1])
        lat = sorted(stats["latency_ms"])
        if not lat:
            print(f"transport {name:10s}: no output received ({stats['sent']} sent)")
            continue
        median = statistics.median(lat)
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        print(f"transport {name:10s}: latency median {median:.1f} ms, p95 {p95:.1f} ms; "
              f"throughput {stats['received'] / stats['duration_s']:.1f} Hz; "
              f"received {stats['received']}/{stats['sent']} (drops {stats['sent'] - stats['received']}); "
              f"ROS overhead (median latency - pipeline) {median - pipeline_ms:.1f} ms")
    print(f"device: {device_name()}")


if __name__ == "__main__":
    main()
