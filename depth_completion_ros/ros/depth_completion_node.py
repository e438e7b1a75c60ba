"""The depth-completion node: camera + LiDAR (+ radar) in, dense metric depth out.

Subscribed topics:
    ``image`` (sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8 or mono8)
    ``camera_info`` (sensor_msgs/CameraInfo; the latest one is used)
    ``lidar/points`` (sensor_msgs/PointCloud2 with x, y, z)
    ``radar/points`` (sensor_msgs/PointCloud2, only with ``use_radar: true``)

Published topics:
    ``depth`` (sensor_msgs/Image, REP 118: 32FC1 metres with NaN = invalid, or 16UC1 mm)
    ``depth/confidence`` (sensor_msgs/Image 32FC1 in [0, 1])
    ``depth/camera_info`` (the CameraInfo of the output image)
    ``depth/points`` (coloured PointCloud2, with ``publish_points: true``)
    ``sparse_depth`` (the projected LiDAR input, 32FC1, with ``publish_sparse: true``)
    ``~/diagnostics`` (diagnostic_msgs/DiagnosticArray, 1 Hz)

Parameters: see :data:`PARAMETERS` (``ros2 param describe`` prints each description).

Output stamp = image stamp; output frame = the image's optical frame. One output per
synchronized LiDAR sweep; when inference is slower than the sensors the newest set wins
and the skipped sets are counted.

Threads: subscription callbacks (one mutually exclusive group) only store messages in
the synchronizer; a guard condition in a second group runs the conversion, inference and
publishing, so a slow model never blocks message intake. Spin it with a
MultiThreadedExecutor (``main`` does).
"""

from __future__ import annotations

import time
import traceback
from collections import deque

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterType
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import JumpThreshold
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.projection import depth_to_points
from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
from depth_completion_ros.pipeline.engine import (
    DEFAULT_METHOD,
    CompletionEngine,
    available_methods,
    describe_device,
)
from depth_completion_ros.pipeline.sync import ApproximateSync, LatestSlot, MatchedSet, SyncConfig
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.diagnostics import NodeStatistics, diagnostic_array
from depth_completion_ros.ros.extrinsics import ExtrinsicsSource, extrinsic_from_parameters
from depth_completion_ros.ros.image import depth_to_image, numpy_to_image
from depth_completion_ros.ros.parameters import ParameterSpec, check_update, declare_all
from depth_completion_ros.ros.frames import depth_frame_from_messages
from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2
from depth_completion_ros.ros.qos import QOS_NAMES, describe_qos, qos_from_name
from depth_completion_ros.ros.stamps import stamp_to_ns

_DOUBLES = ParameterType.PARAMETER_DOUBLE_ARRAY
_STRINGS = ParameterType.PARAMETER_STRING_ARRAY

PARAMETERS = (
    ParameterSpec("method", DEFAULT_METHOD, "Completion method (registry name, e.g. classical, ip_basic)."),
    ParameterSpec("weights", "", "Checkpoint file for learned methods ('' = the shipped one or none)."),
    ParameterSpec("device", "auto", "Compute device: auto = CUDA when available, else CPU.", choices=("auto", "cpu", "cuda")),
    ParameterSpec("min_depth", 0.1, "Smallest valid depth, metres.", 0.01, 10.0),
    ParameterSpec("max_depth", 100.0, "Largest valid depth, metres.", 1.0, 1000.0),
    ParameterSpec("slop", 0.05, "Largest stamp difference inside a synchronized set, seconds.", 0.0, 1.0, runtime=False),
    ParameterSpec("queue_size", 10, "Messages kept per input while waiting for partners.", 1, 100, runtime=False),
    ParameterSpec("input_qos", "sensor_data", "QoS of the subscriptions.", choices=QOS_NAMES, runtime=False),
    ParameterSpec("output_qos", "reliable", "QoS of the publishers.", choices=QOS_NAMES, runtime=False),
    ParameterSpec("qos_depth", 5, "History depth of subscriptions and publishers.", 1, 100, runtime=False),
    ParameterSpec("output_encoding", "32FC1", "Depth encoding: 32FC1 metres (NaN invalid) or 16UC1 mm (0 invalid).",
                  choices=("32FC1", "16UC1")),
    ParameterSpec("publish_points", False, "Also publish the dense depth as a coloured cloud on depth/points."),
    ParameterSpec("publish_sparse", False, "Also publish the projected LiDAR input on sparse_depth."),
    ParameterSpec("image_is_rectified", True, "Images are rectified (project with R, P) or raw (K, D).", runtime=False),
    ParameterSpec("occlusion_window", 0, "Drop LiDAR points hidden behind nearer ones in this pixel window (0 = off, odd).",
                  0, 31),
    ParameterSpec("use_radar", False, "Subscribe to radar/points and attach radar when in time.", runtime=False),
    ParameterSpec("radar_fields", ["x", "y", "z", "rcs", "vx", "vy"],
                  "Radar PointCloud2 field names for x, y, z, rcs, vx, vy (drivers differ).",
                  array_type=_STRINGS, runtime=False),
    ParameterSpec("lidar_to_camera.matrix", [], "LiDAR pose in the camera optical frame, 16 numbers row-major "
                  "(used when TF has no transform).", array_type=_DOUBLES, runtime=False),
    ParameterSpec("lidar_to_camera.xyz", [], "LiDAR position in the camera optical frame, metres.", array_type=_DOUBLES,
                  runtime=False),
    ParameterSpec("lidar_to_camera.quaternion", [], "LiDAR orientation in the camera optical frame (x, y, z, w).",
                  array_type=_DOUBLES, runtime=False),
    ParameterSpec("radar_to_camera.matrix", [], "Radar pose in the camera optical frame, 16 numbers row-major.",
                  array_type=_DOUBLES, runtime=False),
    ParameterSpec("radar_to_camera.xyz", [], "Radar position in the camera optical frame, metres.", array_type=_DOUBLES,
                  runtime=False),
    ParameterSpec("radar_to_camera.quaternion", [], "Radar orientation in the camera optical frame (x, y, z, w).",
                  array_type=_DOUBLES, runtime=False),
    ParameterSpec("no_input_warning", 5.0, "Warn when an input has been silent this long, seconds.", 0.5, 3600.0),
)
INPUT_TOPICS = {"image": Image, "camera_info": CameraInfo, "lidar/points": PointCloud2, "radar/points": PointCloud2}
_ENGINE_PARAMETERS = {"method", "weights", "device", "min_depth", "max_depth"}
_THROTTLE_S = 5.0


class DepthCompletionNode(Node):
    """See the module docstring for topics and threading."""

    def __init__(self, **kwargs) -> None:
        super().__init__("depth_completion", **kwargs)
        self.params = declare_all(self, PARAMETERS)
        self.stats = NodeStatistics()
        self.engine = self._make_engine(self.params)
        self.extrinsics = ExtrinsicsSource(self, {
            sensor: extrinsic_from_parameters(
                sensor, *(self.params[f"{sensor}_to_camera.{k}"] for k in ("matrix", "xyz", "quaternion"))
            )
            for sensor in ("lidar", "radar")
        })
        optional = ("radar",) if self.params["use_radar"] else ()
        self.sync = ApproximateSync(SyncConfig(
            pivot="lidar", required=("image",), optional=optional,
            slop_ns=int(self.params["slop"] * 1e9), queue_size=self.params["queue_size"],
        ))
        self.slot = LatestSlot()
        self._camera_infos: deque[CameraInfo] = deque(maxlen=self.params["queue_size"])
        self._last_input = {}
        self._started = time.monotonic()
        self._last_warning: dict[str, float] = {}

        input_qos = qos_from_name(self.params["input_qos"], self.params["qos_depth"])
        output_qos = qos_from_name(self.params["output_qos"], self.params["qos_depth"])
        intake = MutuallyExclusiveCallbackGroup()
        work = MutuallyExclusiveCallbackGroup()
        inputs = {topic: INPUT_TOPICS[topic] for topic in INPUT_TOPICS if optional or topic != "radar/points"}
        for topic, msg_type in inputs.items():
            self.create_subscription(msg_type, topic, self._intake_callback(topic), input_qos, callback_group=intake)
            self.get_logger().info(f"input '{self.resolve_topic_name(topic)}' QoS: {describe_qos(input_qos)}")
        self.pub_depth = self.create_publisher(Image, "depth", output_qos)
        self.pub_confidence = self.create_publisher(Image, "depth/confidence", output_qos)
        self.pub_info = self.create_publisher(CameraInfo, "depth/camera_info", output_qos)
        self.pub_points = self.create_publisher(PointCloud2, "depth/points", output_qos)
        self.pub_sparse = self.create_publisher(Image, "sparse_depth", output_qos)
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "~/diagnostics", 10)
        self._work = self.create_guard_condition(self._process_latest, callback_group=work)
        self.create_timer(1.0, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # use_sim_time: when /clock jumps back (a bag loops), start matching afresh.
        self._jump_handler = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(seconds=-0.5), on_clock_change=True),
            post_callback=lambda _jump: self.sync.reset(),
        )
        self.get_logger().info(
            f"depth completion: method '{self.engine.method}' on {describe_device(self.engine.device)}; "
            f"extrinsics from {'TF, then ' if self.extrinsics.uses_tf else ''}parameters"
        )

    # ---- set-up and parameters -------------------------------------------------------
    def _make_engine(self, params: dict) -> CompletionEngine:
        """The configured engine; an unknown method or a missing/incompatible checkpoint
        falls back to the default method, with an error log and the ``model_error`` count."""
        kwargs = dict(device=params["device"], min_depth=params["min_depth"], max_depth=params["max_depth"])
        try:
            return CompletionEngine(method=params["method"], weights=params["weights"] or None, **kwargs)
        except (BadInputError, RuntimeError, KeyError, ValueError) as error:
            self.stats.bad("model_error")
            self.get_logger().error(
                f"cannot use method '{params['method']}' (weights '{params['weights']}'): {error}. "
                f"Falling back to '{DEFAULT_METHOD}'. Known methods: {', '.join(available_methods())}"
            )
            return CompletionEngine(method=DEFAULT_METHOD, **kwargs)

    def _on_set_parameters(self, parameters):
        result = check_update(PARAMETERS, parameters)
        if result.successful:
            updated = {**self.params, **{p.name: p.value for p in parameters}}
            if _ENGINE_PARAMETERS & {p.name for p in parameters}:
                self.engine = self._make_engine(updated)
            self.params = updated
        return result

    # ---- intake (callback group 'intake') ----------------------------------------------
    def _intake_callback(self, topic: str):
        def callback(msg) -> None:
            self.stats.received(topic)
            self._last_input[topic] = time.monotonic()
            if topic == "camera_info":
                self._camera_infos.append(msg)
                return
            name = topic.split("/")[0]
            for matched in self.sync.add(name, stamp_to_ns(msg.header.stamp), msg):
                self.stats.synchronized()
                self.slot.put(matched)
                self._work.trigger()

        return callback

    # ---- work (callback group 'work') --------------------------------------------------
    def _process_latest(self) -> None:
        matched = self.slot.take(timeout=0)
        if matched is None:
            return
        try:
            self._process(matched)
        except Exception as error:  # a robot node must survive any single frame; say what broke
            self.stats.bad("internal_error")
            self._warn("internal_error", f"frame dropped, internal error (internal_error): {error!r}\n"
                       f"{traceback.format_exc()}")

    def _warn(self, kind: str, text: str) -> None:
        """Log at most one line per kind every few seconds (a broken sensor floods otherwise)."""
        now = time.monotonic()
        if now - self._last_warning.get(kind, -np.inf) >= _THROTTLE_S:
            self._last_warning[kind] = now
            self.get_logger().warning(text)

    def _bad_input(self, error: BadInputError) -> None:
        kind = _bad_input_kind(error.field)
        self.stats.bad(kind)
        self._warn(kind, f"dropped a frame, bad input ({kind}): {error}")

    def _camera_info_for(self, image_msg: Image) -> CameraInfo:
        """The CameraInfo with the image's stamp, else the latest one."""
        infos = list(self._camera_infos)
        if not infos:
            raise BadInputError("camera_info", "no CameraInfo received yet")
        same_stamp = [info for info in infos if info.header.stamp == image_msg.header.stamp]
        return same_stamp[-1] if same_stamp else infos[-1]

    def _frame(self, matched: MatchedSet) -> DepthFrame:
        """Convert one synchronized set to arrays (raises BadInputError on bad input)."""
        image_msg = matched.messages["image"].payload
        radar = matched.messages.get("radar")
        converted = depth_frame_from_messages(
            image_msg, self._camera_info_for(image_msg), matched.messages["lidar"].payload, self.extrinsics.lookup,
            radar=None if radar is None else radar.payload, rectified=self.params["image_is_rectified"],
            radar_fields=self.params["radar_fields"],
        )
        if converted.nonfinite_points:
            self.stats.bad("nonfinite_points", converted.nonfinite_points)
        if converted.radar_error is not None:  # radar is optional: go on without it, loudly
            self.stats.bad("bad_radar")
            self._warn("bad_radar", f"frame completed without radar, bad radar input (bad_radar): {converted.radar_error}")
        return converted.frame

    def _process(self, matched: MatchedSet) -> None:
        image_msg = matched.messages["image"].payload
        try:
            frame = self._frame(matched)
            start = time.perf_counter()
            output = complete_frame(self.engine, frame, self.params["occlusion_window"] or None)
            inference_ms = (time.perf_counter() - start) * 1e3
        except BadInputError as error:
            self._bad_input(error)
            return
        stamp_ns = stamp_to_ns(image_msg.header.stamp)
        frame_id = image_msg.header.frame_id
        depth = output.result.depth
        self.pub_depth.publish(depth_to_image(depth, self.params["output_encoding"], stamp_ns, frame_id))
        self.pub_confidence.publish(numpy_to_image(output.result.confidence, "32FC1", stamp_ns, frame_id))
        self.pub_info.publish(model_to_camera_info(frame.camera.image_model(), stamp_ns, frame_id))
        if self.params["publish_sparse"]:
            self.pub_sparse.publish(depth_to_image(output.sparse, "32FC1", stamp_ns, frame_id))
        if self.params["publish_points"]:
            points, colors = depth_to_points(depth, frame.camera, frame.rgb)
            self.pub_points.publish(xyz_to_pointcloud2(points, stamp_ns, frame_id, rgb=colors))
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        self.stats.published(latency_ms, inference_ms)

    # ---- diagnostics (timer) ---------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        snapshot = self.stats.snapshot()
        sync = self.sync.stats()
        warnings = self._silent_inputs()
        values = {
            **{k: v for k, v in snapshot.items() if v is not None},
            "device": describe_device(self.engine.device),
            "method": self.engine.method,
            "drops": {**sync["drops"], "skipped_busy": self.slot.skipped},
            "sync_resets": sync["resets"],
        }
        if snapshot["bad_input"]:
            warnings.append(f"bad input: {snapshot['bad_input']}")
        name = f"{self.get_fully_qualified_name()}: depth completion"
        self.pub_diagnostics.publish(diagnostic_array(name, self.engine.device, values, self.get_clock().now().to_msg(), warnings))

    def _silent_inputs(self) -> list[str]:
        """Inputs silent for longer than ``no_input_warning``, logged with the likely cause."""
        limit = self.params["no_input_warning"]
        now = time.monotonic()
        silent = []
        for topic in ("image", "camera_info", "lidar/points"):
            last = self._last_input.get(topic, self._started)
            if now - last > limit:
                silent.append(topic)
                self._warn(
                    f"silent {topic}",
                    f"no message on '{self.resolve_topic_name(topic)}' for {now - last:.0f} s: is it published? "
                    f"A QoS mismatch (this node subscribes with '{self.params['input_qos']}') starves a "
                    "subscription silently; check 'ros2 topic info -v'",
                )
        return [f"no input on {', '.join(silent)}"] if silent else []


def _bad_input_kind(field: str) -> str:
    """A short counter name for the field a BadInputError names."""
    for prefix, kind in (("Image.encoding", "wrong_encoding"), ("image", "image_size_mismatch"), ("Image", "bad_image"),
                         ("CameraInfo", "bad_camera_info"), ("camera_info", "no_camera_info"),
                         ("PointCloud2", "bad_cloud"), ("lidar", "empty_cloud"), ("extrinsics", "missing_extrinsics")):
        if field.startswith(prefix):
            return kind
    return "other"


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = DepthCompletionNode()
    executor = MultiThreadedExecutor(num_threads=2)  # one thread for intake, one for inference
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
