"""The depth-completion node in its own process, fed real KITTI frames over real DDS.

Each KITTI test starts the node (``python -m depth_completion_ros.ros.depth_completion_node``)
and the rig publisher (kitti_rig_publisher.py) as separate processes in an isolated ROS
domain, and listens to ``depth`` and the node's diagnostics from the test process.

The radar-camera tests (no LiDAR) run the node in the test process with a tiny untrained
radar network, publishing small synthetic frames and reading the node's counters.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from depth_completion_ros.datasets.messages import image_to_numpy
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.depth_completion_node import DepthCompletionNode
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.pointcloud import array_to_pointcloud2
from depth_completion_ros.ros.shm import clean_zombie_shm
from depth_completion_ros.ros.stamps import stamp_to_ns

PUBLISHER = Path(__file__).with_name("kitti_rig_publisher.py")
sys.path.insert(0, str(PUBLISHER.parent))
from diagnostics_wait import diagnostic_values, settle_until_counters_rest  # noqa: E402
from kitti_rig_publisher import NODE_NOT_DISCOVERED, TEARDOWN_HUNG, load_frames  # noqa: E402  (the fixture's loader)
from node_process import run_discovering_publisher, start_discovered  # noqa: E402

pytestmark = pytest.mark.slow


def node_command(kitti_root: Path, extra: list[str], with_extrinsics: bool = True) -> list[str]:
    T = load_frames(kitti_root)[0]["T_camera_lidar"]
    params = ["input_qos:=reliable"]
    if with_extrinsics:
        params.append(f"lidar_to_camera.matrix:=[{','.join(repr(float(v)) for v in T.ravel())}]")
    command = [sys.executable, "-m", "depth_completion_ros.ros.depth_completion_node", "--ros-args"]
    for param in params + extra:
        command += ["-p", param]
    return command


class Run:
    """Outputs of one node + publisher run."""

    def __init__(self, manifest, depth, diagnostics, node_log, node_returncode):
        self.manifest = manifest
        self.depth: dict[int, Image] = depth
        self.diagnostics: list[DiagnosticArray] = diagnostics
        self.node_log: str = node_log
        self.node_returncode = node_returncode

    def last_values(self) -> dict[str, str]:
        return diagnostic_values(self.diagnostics[-1])


def run_node(kitti_root: Path, tmp_path: Path, domain: int, scenario: str, frames: int = 6,
             node_params: tuple[str, ...] = (), with_extrinsics: bool = True, radar: bool = False,
             command: list[str] | None = None, stop_signal: int = signal.SIGINT, rate_hz: float = 5.0) -> Run:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    depth: dict[int, Image] = {}
    diagnostics: list[DiagnosticArray] = []
    log_path = tmp_path / f"node-{scenario}.log"
    listener = rclpy.create_node("test_listener", context=context)
    node_process = None
    try:
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)

        def on_depth(msg: Image) -> None:
            stamp = stamp_to_ns(msg.header.stamp)
            assert stamp not in depth, "two depth outputs for one stamp"
            depth[stamp] = msg

        subscriptions = [
            listener.create_subscription(Image, "depth", on_depth, qos),
            listener.create_subscription(DiagnosticArray, "depth_completion/diagnostics", diagnostics.append, 10),
        ]
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(listener)
        # the node's outputs must reach us before frames flow
        node_process = start_discovered(command or node_command(kitti_root, list(node_params), with_extrinsics),
                                        log_path, executor, subscriptions)
        publisher_args = [sys.executable, str(PUBLISHER), "--data", str(kitti_root), "--frames", str(frames),
                          "--scenario", scenario, "--rate", str(rate_hz)] + (["--radar"] if radar else [])
        returncode, out, err = run_discovering_publisher(publisher_args, executor, NODE_NOT_DISCOVERED)
        settle_until_counters_rest(executor, diagnostics)
        manifest = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(manifest) == frames, err  # every sweep went out
        if returncode != 0 and TEARDOWN_HUNG in err:
            # the fixture's own DDS teardown hung after its last frame was acknowledged:
            # not the node's doing; remove what the aborted process left in /dev/shm
            clean_zombie_shm()
            warnings.warn(f"rig publisher hung in its DDS teardown:\n{err}", stacklevel=1)
        else:
            assert returncode == 0, err
    finally:
        alive = node_process is not None and node_process.poll() is None
        if node_process is not None:
            node_process.send_signal(stop_signal)  # the node must shut down cleanly
            node_process.wait(timeout=20)
        # the node's writers stop before our readers go: destroying a reader that a
        # writer is still sending to has deadlocked in Fast DDS
        listener.destroy_node()
        rclpy.shutdown(context=context)
    node_log = log_path.read_text()
    assert alive, f"the node died during the run:\n{node_log}"
    return Run(manifest, depth, diagnostics, node_log, node_process.returncode)


def assert_one_output_per_sweep(run: Run, expected_stamps: list[int]) -> None:
    """Exactly one output per synchronized sweep, stamped with its image stamp, and nothing
    skipped as busy: at these rates the node is never overloaded (a stall is absorbed by
    its queue of sets)."""
    assert sorted(run.depth) == sorted(expected_stamps), (sorted(run.depth), expected_stamps)
    values = run.last_values()
    assert int(values["drops.skipped_busy"]) == 0 and int(values["drops.no_partner"]) == 0, values


def expected_depth(kitti_root: Path, frame_index: int) -> np.ndarray:
    frame = load_frames(kitti_root)[frame_index]
    inputs = DepthFrame(frame["rgb"], frame["camera"], frame["scan"][:, :3], frame["T_camera_lidar"])
    return complete_frame(CompletionEngine(), inputs).result.depth


def test_one_output_per_sweep_with_image_stamp_and_same_values_as_the_pipeline(kitti_object, tmp_path, ros_domain_id):
    run = run_node(kitti_object, tmp_path, ros_domain_id, "good", frames=6)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest])
    for entry in [e for e in run.manifest if e["stamp_ns"] in run.depth][:3]:
        msg = run.depth[entry["stamp_ns"]]
        assert msg.encoding == "32FC1" and msg.header.frame_id == "camera_optical_frame"
        got = image_to_numpy(msg)
        want = expected_depth(kitti_object, entry["frame"])
        np.testing.assert_array_equal(np.isnan(got), want == 0)
        np.testing.assert_allclose(np.nan_to_num(got), want, rtol=1e-6)
    assert run.node_returncode == 0 and "Traceback" not in run.node_log
    values = run.last_values()
    assert values["device"].startswith("cpu") or values["device"].startswith("cuda")
    assert int(values["outputs"]) == len(run.depth) and int(values["drops.no_partner"]) == 0
    assert int(values["engine.frames"]) == len(run.depth) and int(values["engine.method_fallbacks"]) == 0


def test_bad_inputs_are_logged_counted_and_never_published(kitti_object, tmp_path, ros_domain_id):
    run = run_node(kitti_object, tmp_path, ros_domain_id, "bad_inputs", frames=14)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest if e["expect_output"]])
    values = run.last_values()
    for kind in ("wrong_encoding", "image_size_mismatch", "bad_camera_info", "bad_cloud", "empty_cloud",
                 "no_projection"):
        assert int(values.get(f"bad_input.{kind}", 0)) >= 1, (kind, values)
        assert f"({kind})" in run.node_log, f"no log line for {kind}"
    assert int(values["bad_input.nonfinite_points"]) > 0
    assert "Traceback" not in run.node_log


def test_missing_extrinsics(kitti_object, tmp_path, ros_domain_id):
    run = run_node(kitti_object, tmp_path, ros_domain_id, "good", frames=3, with_extrinsics=False)
    assert run.depth == {}
    assert int(run.last_values()["bad_input.missing_extrinsics"]) == 3
    assert "lidar_to_camera.matrix" in run.node_log


WEIGHTS = Path(__file__).resolve().parents[2] / "depth_completion_ros" / "weights"


@pytest.mark.parametrize(("weights", "says"), [
    ("missing.pt", "missing.pt"),
    (str(WEIGHTS / "occdepth_small.pt"), "checkpoint"),  # a real checkpoint of another network
    (str(WEIGHTS / "teacher_small.pt"), "teacher_small.pt"),  # our format, the wrong network
])
def test_unusable_or_incompatible_checkpoint_falls_back_loudly(kitti_object, tmp_path, ros_domain_id, weights, says):
    path = tmp_path / weights if weights == "missing.pt" else Path(weights)
    run = run_node(kitti_object, tmp_path, ros_domain_id, "good", frames=3,
                   node_params=("method:=learned", f"weights:={path}"))
    assert int(run.last_values()["bad_input.model_error"]) == 1
    assert says in run.node_log and "Falling back" in run.node_log and "Traceback" not in run.node_log
    assert run.last_values()["method"] == "classical"
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest])


def test_radar_dropout_does_not_stop_outputs(kitti_object, tmp_path, ros_domain_id):
    T = ",".join(repr(float(v)) for v in load_frames(kitti_object)[0]["T_camera_lidar"].ravel())
    run = run_node(kitti_object, tmp_path, ros_domain_id, "radar_dropout", frames=8,
                   node_params=("use_radar:=true", f"radar_to_camera.matrix:=[{T}]"), radar=True)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest])
    assert "bad_input.bad_radar" not in run.last_values() and "Traceback" not in run.node_log


def test_time_going_backwards_resets_and_outputs_resume(kitti_object, tmp_path, ros_domain_id):
    run = run_node(kitti_object, tmp_path, ros_domain_id, "time_jump", frames=8)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest])
    assert any(e["stamp_ns"] in run.depth for e in run.manifest[4:])  # outputs resumed after the jump
    assert int(run.last_values()["sync_resets"]) == 1


def test_dcr_run_starts_the_configured_pipeline_and_stops_cleanly_on_sigterm(kitti_object, tmp_path, ros_domain_id):
    T = load_frames(kitti_object)[0]["T_camera_lidar"]
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": {
        "input_qos": "reliable", "lidar_to_camera": {"matrix": [float(v) for v in T.ravel()]}}}}))
    command = [str(Path(sys.executable).parent / "dcr"), "run", "--config", str(config)]
    run = run_node(kitti_object, tmp_path, ros_domain_id, "good", frames=4, command=command,
                   stop_signal=signal.SIGTERM)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest])
    assert run.node_returncode == 0 and "Traceback" not in run.node_log
    assert "FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA" in run.node_log


# ---- radar-camera rig without LiDAR, node in the test process ------------------------------
CAMERA = CameraModel(128, 64, np.array([[100.0, 0.0, 64.0], [0.0, 100.0, 32.0], [0.0, 0.0, 1.0]]))
CAMERA_FRAME = "camera_optical_frame"
RADAR_IN_VIEW = np.array([(-1.0, 0.5, 12.0), (0.5, 0.3, 20.0), (2.0, 0.8, 15.0)], np.float32)  # optical frame, m


class RadarCameraRig:
    """A DepthCompletionNode (use_lidar false, method radar) and a test node publishing its
    inputs and collecting its ``depth``, spun by one executor in the test thread."""

    def __init__(self, node: DepthCompletionNode, tester, executor: SingleThreadedExecutor) -> None:
        self.node, self.executor = node, executor
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {topic: tester.create_publisher(msg_type, topic, qos) for topic, msg_type in
                           (("image", Image), ("camera_info", CameraInfo), ("radar/points", PointCloud2))}
        self.depth: list[Image] = []
        depth_sub = tester.create_subscription(Image, "depth", self.depth.append, qos)
        self.spin_until(lambda: depth_sub.get_publisher_count() > 0
                        and all(p.get_subscription_count() > 0 for p in self.publishers.values()))

    def spin_until(self, done: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, "timed out"
            self.executor.spin_once(timeout_sec=0.05)

    def camera_info(self, stamp_ns: int) -> None:
        """Publish a CameraInfo and wait until the node has cached it."""
        self.publishers["camera_info"].publish(model_to_camera_info(CAMERA, stamp_ns, CAMERA_FRAME))
        self.spin_until(lambda: len(self.node._camera_infos["camera_info"]) > 0)

    def radar(self, points: np.ndarray, stamp_ns: int) -> None:
        """Publish a radar cloud (a structured array) and wait until the synchronizer holds it."""
        received = self.node.sync.stats()["received"].get("radar", 0)
        self.publishers["radar/points"].publish(array_to_pointcloud2(points, stamp_ns, "radar"))
        self.spin_until(lambda: self.node.sync.stats()["received"].get("radar", 0) > received)

    def image(self, stamp_ns: int, outputs: int = 1) -> list[Image]:
        """Publish a random image; return the ``outputs`` depth images the node publishes next."""
        rgb = np.random.default_rng(stamp_ns % 2**32).integers(0, 256, (CAMERA.height, CAMERA.width, 3), np.uint8)
        before = len(self.depth)
        received = self.node.sync.stats()["received"].get("image", 0)
        self.publishers["image"].publish(numpy_to_image(rgb, "rgb8", stamp_ns, CAMERA_FRAME))
        self.spin_until(lambda: self.node.sync.stats()["received"].get("image", 0) > received
                        and len(self.depth) >= before + outputs)
        return self.depth[before:]


def radar_cloud(fields: tuple[str, ...]) -> np.ndarray:
    """A radar cloud with :data:`RADAR_IN_VIEW` as x, y, z and the other fields set to 1."""
    points = np.ones(len(RADAR_IN_VIEW), dtype=[(name, "<f4") for name in fields])
    for axis, name in enumerate("xyz"):
        points[name] = RADAR_IN_VIEW[:, axis]
    return points


@contextlib.contextmanager
def radar_camera_rig(domain: int, weights: Path) -> Iterator[RadarCameraRig]:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    nodes = []
    executor = SingleThreadedExecutor(context=context)
    try:
        nodes.append(DepthCompletionNode(context=context, parameter_overrides=[
            Parameter("use_lidar", value=False), Parameter("use_radar", value=True),
            Parameter("method", value="radar"), Parameter("weights", value=str(weights)),
            Parameter("device", value="cpu"), Parameter("input_qos", value="reliable"),
            Parameter("radar_to_camera.matrix", value=[float(v) for v in np.eye(4).ravel()]),
        ]))
        nodes.append(rclpy.create_node("radar_camera_tester", context=context))
        for node in nodes:
            executor.add_node(node)
        yield RadarCameraRig(*nodes, executor)
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)


def frame_kinds(node: DepthCompletionNode) -> dict[str, int]:
    """The radar method's nonzero frame counters since the node's warm-up."""
    return {kind: n for kind, n in node.engine.counters().items() if kind.endswith("_frames") and n}


def test_radar_camera_without_lidar_gives_depth_of_the_camera_size(ros_domain_id, radar_checkpoint):
    with radar_camera_rig(ros_domain_id, radar_checkpoint) as rig:
        assert "lidar/points" not in {sub.topic_name.lstrip("/") for sub in rig.node.subscriptions}
        rig.camera_info(10**9)
        assert rig.image(10**9, outputs=0) == []
        rig.radar(radar_cloud(("x", "y", "z", "rcs", "vx", "vy")), 10**9 + 10**7)  # late, within slop: joins
        rig.spin_until(lambda: len(rig.depth) == 1)
        msg = rig.depth[0]
        depth = image_to_numpy(msg)
        assert depth.shape == (CAMERA.height, CAMERA.width) and stamp_to_ns(msg.header.stamp) == 10**9
        assert np.isfinite(depth).any()
        assert rig.node.engine.method == "radar" and frame_kinds(rig.node) == {"radar_frames": 1}


def test_radar_camera_without_any_radar_still_publishes_camera_only_depth(ros_domain_id, radar_checkpoint):
    with radar_camera_rig(ros_domain_id, radar_checkpoint) as rig:
        rig.camera_info(10**9)
        # Without LiDAR a frame waits for late radar until the next image releases it.
        assert rig.image(10**9, outputs=0) == []
        for stamp_ns in (2 * 10**9, 3 * 10**9):
            (depth,) = rig.image(stamp_ns)
            assert image_to_numpy(depth).shape == (CAMERA.height, CAMERA.width)
        assert frame_kinds(rig.node) == {"camera_only_frames": 2}
        assert not rig.node.stats.bad_input


def test_radar_without_the_configured_fields_is_counted_and_the_frame_completed(ros_domain_id, radar_checkpoint):
    with radar_camera_rig(ros_domain_id, radar_checkpoint) as rig:
        rig.camera_info(10**9)
        rig.radar(radar_cloud(("x", "y", "z", "intensity")), 10**9)  # no rcs, vx, vy
        (depth,) = rig.image(10**9)
        assert image_to_numpy(depth).shape == (CAMERA.height, CAMERA.width)
        assert rig.node.stats.bad_input == {"bad_radar": 1}
        assert frame_kinds(rig.node) == {"camera_only_frames": 1}
