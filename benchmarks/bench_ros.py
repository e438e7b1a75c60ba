"""End-to-end behaviour of the depth-completion node across processes over Fast DDS.

A KITTI-size rig (1242x375 rgb8 image + CameraInfo + the ~120k-point HDL-64 cloud of KITTI
object frame 000001) is published from a driver process to the node in another process,
with realistic stamps: the image jittered +-1 ms around its period, the cloud stamped within
+-``--jitter-ms`` of its image in both orders (alternating), and the cloud published before
the image on every other sweep. For each method and rate, ``--repeats`` runs of ``--frames``
sweeps print:

* answered / sent, and whether every sweep was answered exactly once;
* latency stamp -> output received (median, p95, p99);
* ROS overhead: latency minus the node's own inference time (the median of the node's
  per-second inference medians; p95 overhead = p95 latency - that median, an upper bound);
* the node's drops by reason (from its diagnostics);
* the pipeline alone in this process (``complete_frame``) as the in-run reference, and the
  ratio median latency / pipeline.

The first ``PRIMING_FRAMES`` sweeps of a run open the DDS channels (the first sample over a
new match can take seconds) and are neither counted nor timed.

Run: .venv/bin/python benchmarks/bench_ros.py [--methods classical,learned] [--rates 10]
     [--frames 100] [--repeats 1] [--transport LARGE_DATA|default] [--param NAME:=VALUE ...]
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

PRIMING_FRAMES = 3
SETTLE_S = 3.0  # after the last sweep: outputs still in flight, two diagnostics ticks


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


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def drive(method: str, frames: int, rate: float, jitter_ms: float, seed: int, params: list[str]) -> dict:
    """In a child process with the transport env already set: start the node, publish the
    jittered rig, collect outputs and the node's last diagnostics."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from depth_completion_ros.ros.camera_info import model_to_camera_info
    from depth_completion_ros.ros.diagnostics import diagnostic_values
    from depth_completion_ros.ros.image import numpy_to_image
    from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2
    from depth_completion_ros.ros.stamps import make_header, stamp_to_ns

    rgb, camera, scan, T = kitti_frame()
    matrix = ",".join(repr(float(v)) for v in T.ravel())
    node = subprocess.Popen(
        [sys.executable, "-m", "depth_completion_ros.ros.depth_completion_node", "--ros-args",
         "-p", "input_qos:=reliable", "-p", f"lidar_to_camera.matrix:=[{matrix}]", "-p", f"method:={method}",
         "-p", f"warm_up_size:=[{rgb.shape[1]},{rgb.shape[0]}]", *[a for p in params for a in ("-p", p)]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    rclpy.init()
    driver = rclpy.create_node("bench_ros_driver")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub_info, pub_image, pub_cloud = (driver.create_publisher(t, n, qos) for t, n in (
        (CameraInfo, "camera_info"), (Image, "image"), (PointCloud2, "lidar/points")))
    received: dict[int, list[int]] = {}
    diagnostics: list[DiagnosticArray] = []
    subs = [driver.create_subscription(Image, "depth", lambda m: received.setdefault(
                stamp_to_ns(m.header.stamp), []).append(time.time_ns()), qos),
            driver.create_subscription(DiagnosticArray, "depth_completion/diagnostics", diagnostics.append, 10)]
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(driver)
    deadline = time.monotonic() + 120  # includes the node's model load and warm-up
    while (any(s.get_publisher_count() == 0 for s in subs)
           or any(p.get_subscription_count() == 0 for p in (pub_info, pub_image, pub_cloud))) \
            and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    time.sleep(1.0)
    # messages built once: the driver's own conversion time must not pace the rig
    info = model_to_camera_info(camera, 0, "camera_optical_frame")
    image = numpy_to_image(rgb, "rgb8", 0, "camera_optical_frame")
    cloud = xyz_to_pointcloud2(scan[:, :3], 0, "velodyne", intensity=scan[:, 3])
    rng = np.random.default_rng(seed)
    sent: list[int] = []
    period_s = 1.0 / rate
    start_ns, start = time.time_ns(), time.monotonic()
    for k in range(frames + PRIMING_FRAMES):
        stamp = start_ns + int(k * period_s * 1e9 + rng.uniform(-1e6, 1e6))
        offset = int(rng.uniform(0.5, jitter_ms) * 1e6) * (1 if k % 4 < 2 else -1)
        info.header = image.header = make_header(stamp, "camera_optical_frame")
        cloud.header = make_header(stamp + offset, "velodyne")
        pub_info.publish(info)
        for publisher, msg in ((pub_cloud, cloud), (pub_image, image))[:: 1 if k % 2 else -1]:
            publisher.publish(msg)
        if k >= PRIMING_FRAMES:
            sent.append(stamp)
        while time.monotonic() < start + (k + 1) * period_s:
            executor.spin_once(timeout_sec=max(0.0, min(0.005, start + (k + 1) * period_s - time.monotonic())))
    settle = time.monotonic() + SETTLE_S
    while time.monotonic() < settle:
        executor.spin_once(timeout_sec=0.05)
    node.send_signal(2)
    node.wait(timeout=30)
    driver.destroy_node()
    rclpy.try_shutdown()
    values = diagnostic_values(diagnostics[-1]) if diagnostics else {}
    inference = [float(diagnostic_values(d)["inference_ms_median"]) for d in diagnostics
                 if "inference_ms_median" in diagnostic_values(d)]
    return {
        "sent": len(sent),
        "answered": sum(s in received for s in sent),
        "duplicates": sum(len(received.get(s, [])) > 1 for s in sent),
        "latency_ms": [(received[s][0] - s) / 1e6 for s in sent if s in received],
        "inference_ms": statistics.median(inference) if inference else float("nan"),
        "drops": {k.split(".", 1)[1]: int(v) for k, v in values.items()
                  if k.startswith("drops.") and k != "drops.unused" and int(v)},
        "bad_input": {k.split(".", 1)[1]: int(v) for k, v in values.items() if k.startswith("bad_input.")},
        "diagnostics": values,
        "budget_fallbacks": int(values.get("budget_fallbacks", 0)),
        "rates": [{k: v for k, v in diagnostic_values(d).items() if "rate" in k or "latency" in k} for d in diagnostics],
    }


def run_driver(method: str, frames: int, rate: float, jitter_ms: float, seed: int, transport: str,
               params: list[str]) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k != "FASTDDS_BUILTIN_TRANSPORTS"}
    if transport != "default":
        env["FASTDDS_BUILTIN_TRANSPORTS"] = transport
    env["ROS_DOMAIN_ID"] = str(150 + seed % 50)
    result = subprocess.run([sys.executable, __file__, "--drive", method, "--frames", str(frames), "--rates", str(rate),
                             "--jitter-ms", str(jitter_ms), "--seed", str(seed), *[a for p in params for a in ("--param", p)]],
                            env=env, capture_output=True, text=True, cwd=REPO, timeout=900)
    if result.returncode != 0:
        print(f"  driver failed: {result.stderr.strip()[-1500:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="classical,learned", help="comma-separated (default: %(default)s)")
    parser.add_argument("--rates", default="10", help="comma-separated sweep rates, Hz (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=100, help="counted sweeps per run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per method and rate (default: %(default)s)")
    parser.add_argument("--jitter-ms", type=float, default=5.0,
                        help="largest |cloud stamp - image stamp|, ms (default: %(default)s)")
    parser.add_argument("--transport", default="LARGE_DATA", choices=("LARGE_DATA", "default"),
                        help="Fast DDS builtin transports (default: %(default)s)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="a node parameter, repeatable (e.g. latency_budget_ms:=150.0)")
    parser.add_argument("--verbose", action="store_true", help="also print the node's last diagnostics of each run")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--drive", metavar="METHOD", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive, args.frames, float(args.rates), args.jitter_ms, args.seed, args.param)))
        return

    print_header(f"bench_ros: depth completion node across processes, KITTI-size frames, stamps jittered "
                 f"+-{args.jitter_ms:g} ms (both orders), transport {args.transport}")
    from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
    from depth_completion_ros.pipeline.engine import CompletionEngine

    rgb, camera, scan, T = kitti_frame()
    frame = DepthFrame(rgb, camera, scan[:, :3], T)
    methods = args.methods.split(",")
    pipeline_ms = {m: median_ms(lambda e=CompletionEngine(m): complete_frame(e, frame), repeats=15) for m in methods}
    for method, ms in pipeline_ms.items():
        print(f"reference: pipeline alone in this process (complete_frame, {method}): median {ms:.1f} ms")
    seed = 0
    for method in methods:
        for rate in (float(r) for r in args.rates.split(",")):
            for repeat in range(args.repeats):
                seed += 1
                stats = run_driver(method, args.frames, rate, args.jitter_ms, seed, args.transport, args.param)
                if stats is None:
                    continue
                lat = stats["latency_ms"]
                inference = stats["inference_ms"]
                exact = stats["answered"] == stats["sent"] and stats["duplicates"] == 0
                print(f"{method:9s} {rate:4.0f} Hz run {repeat + 1}: answered {stats['answered']}/{stats['sent']}"
                      f"{' (every sweep once)' if exact else ''}; latency median {percentile(lat, 50):.1f} / "
                      f"p95 {percentile(lat, 95):.1f} / p99 {percentile(lat, 99):.1f} ms; inference {inference:.1f} ms; "
                      f"overhead median {percentile(lat, 50) - inference:.1f} / p95 {percentile(lat, 95) - inference:.1f} ms; "
                      f"latency / pipeline {percentile(lat, 50) / pipeline_ms[method]:.2f}; "
                      f"node drops {stats['drops'] or 'none'}; budget fallbacks {stats['budget_fallbacks']}{'; bad input ' + str(stats['bad_input']) if stats['bad_input'] else ''}",
                      flush=True)
                if args.verbose:
                    print(f"  node's last diagnostics: {stats['diagnostics']}")
                    for r in stats["rates"]:
                        print("   ", r)
    print(f"device: {device_name()}")


if __name__ == "__main__":
    main()
