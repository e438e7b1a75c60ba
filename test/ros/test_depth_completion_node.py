"""The depth-completion node in its own process, fed real KITTI frames over real DDS.

Each test starts the node (``python -m depth_completion_ros.ros.depth_completion_node``)
and the rig publisher (kitti_rig_publisher.py) as separate processes in an isolated ROS
domain, and listens to ``depth`` and the node's diagnostics from the test process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.ros.image import image_to_numpy
from depth_completion_ros.ros.stamps import stamp_to_ns

PUBLISHER = Path(__file__).with_name("kitti_rig_publisher.py")
sys.path.insert(0, str(PUBLISHER.parent))
from kitti_rig_publisher import load_frames  # noqa: E402  (the fixture's own loader)

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
        status = self.diagnostics[-1].status[0]
        return {kv.key: kv.value for kv in status.values}


def run_node(kitti_root: Path, tmp_path: Path, domain: int, scenario: str, frames: int = 6,
             node_params: tuple[str, ...] = (), with_extrinsics: bool = True, radar: bool = False,
             command: list[str] | None = None, stop_signal: int = signal.SIGINT) -> Run:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    depth: dict[int, Image] = {}
    diagnostics: list[DiagnosticArray] = []
    log_path = tmp_path / f"node-{scenario}.log"
    with open(log_path, "w") as log:
        node_process = subprocess.Popen(command or node_command(kitti_root, list(node_params), with_extrinsics),
                                        stdout=log, stderr=subprocess.STDOUT)
    try:
        listener = rclpy.create_node("test_listener", context=context)
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
        matched = time.monotonic() + 60  # the node's outputs must reach us before frames flow
        while any(s.get_publisher_count() == 0 for s in subscriptions) and time.monotonic() < matched:
            executor.spin_once(timeout_sec=0.05)
            assert node_process.poll() is None, log_path.read_text()
        publisher_args = [sys.executable, str(PUBLISHER), "--data", str(kitti_root), "--frames", str(frames),
                          "--scenario", scenario] + (["--radar"] if radar else [])
        publisher = subprocess.Popen(publisher_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while publisher.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        settle = time.monotonic() + 2.5  # late outputs and one more diagnostics tick
        while time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.05)
        out, err = publisher.communicate(timeout=30)
        assert publisher.returncode == 0, err
        manifest = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        listener.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        alive = node_process.poll() is None
        node_process.send_signal(stop_signal)  # the node must shut down cleanly
        node_process.wait(timeout=20)
    node_log = log_path.read_text()
    assert alive, f"the node died during the run:\n{node_log}"
    return Run(manifest, depth, diagnostics, node_log, node_process.returncode)


def assert_one_output_per_sweep(run: Run, expected_stamps: list[int]) -> None:
    """Exactly one output per synchronized sweep, stamped with its image stamp; a sweep the
    node had to skip because inference was still busy (a loaded CI machine) must be
    counted as such in the diagnostics instead."""
    skipped = int(run.last_values()["drops.skipped_busy"])
    assert set(run.depth) <= set(expected_stamps)
    assert len(run.depth) + skipped == len(expected_stamps), (sorted(run.depth), expected_stamps, skipped)
    assert skipped <= len(expected_stamps) // 3


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
    run = run_node(kitti_object, tmp_path, ros_domain_id, "bad_inputs", frames=12)
    assert_one_output_per_sweep(run, [e["stamp_ns"] for e in run.manifest if e["expect_output"]])
    values = run.last_values()
    for kind in ("wrong_encoding", "image_size_mismatch", "bad_camera_info", "bad_cloud", "empty_cloud"):
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
