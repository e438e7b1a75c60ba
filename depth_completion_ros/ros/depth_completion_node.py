"""The depth-completion node: camera + LiDAR (+ radar) in, dense metric depth out.

Subscribed and published topics and parameters: :data:`INTERFACE` (``ros2 param describe``
prints each parameter's description; the README's "Nodes" section is generated from it).

Output stamp = image stamp; output frame = the image's optical frame. One output per
synchronized LiDAR sweep (per image with ``use_lidar: false``, a radar-camera rig: the
radar sweep within ``slop`` of the image is attached, and a frame waits for a late sweep
until the next image arrives). A set is released as soon as no later message could replace
one of its members (not when the next image arrives); sets released while the worker is
busy wait in a queue of ``work_queue_size`` and are answered in order; only when the worker
falls that far behind is the oldest skipped (``drops.skipped_busy``, logged). The method is
warmed up at ``warm_up_size`` before the node says it is ready.

Threads: subscription callbacks (the executor thread) only store messages in the
synchronizer; the node's worker thread runs the conversion, inference and publishing, so a
slow model never blocks message intake (see ``synchronized_node``).
"""

from __future__ import annotations

import time

from rcl_interfaces.msg import ParameterType
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import depth_to_points
from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame
from depth_completion_ros.pipeline.engine import (
    DEFAULT_METHOD,
    CompletionEngine,
    available_methods,
    describe_device,
)
from depth_completion_ros.pipeline.learned import BACKENDS as LEARNED_BACKENDS
from depth_completion_ros.pipeline.node_config import NODE_DEFAULTS, engine_arguments, lidar_free_methods, sync_config
from depth_completion_ros.pipeline.radar import WITHOUT_RADAR_CHOICES
from depth_completion_ros.pipeline.sync import MatchedSet, SyncConfig
from depth_completion_ros.ros.camera_info import model_to_camera_info
from depth_completion_ros.ros.extrinsics import ExtrinsicsSource
from depth_completion_ros.pipeline.message_frames import depth_frame_from_messages
from depth_completion_ros.ros.image import depth_to_image, numpy_to_image
from depth_completion_ros.ros.node_docs import NodeInterface, TopicSpec
from depth_completion_ros.ros.parameters import ParameterSpec
from depth_completion_ros.ros.pointcloud import xyz_to_pointcloud2
from depth_completion_ros.ros.stamps import stamp_to_ns
from depth_completion_ros.ros.synchronized_node import (
    COMMON_PARAMETERS,
    SynchronizedNode,
    extrinsic_parameters,
    spin_nodes,
)

_STRINGS = ParameterType.PARAMETER_STRING_ARRAY

PARAMETERS = COMMON_PARAMETERS + (
    ParameterSpec("method", NODE_DEFAULTS["method"], "Completion method (registry name, e.g. classical, ip_basic)."),
    ParameterSpec("weights", NODE_DEFAULTS["weights"],
                  "Checkpoint file for learned methods ('' = the shipped one or none)."),
    ParameterSpec("warm_up_size", [1242, 375], "Image width and height the method is warmed up with at start-up "
                  "(the first frame of another size warms it up again); [] = no warm-up.",
                  array_type=ParameterType.PARAMETER_INTEGER_ARRAY, runtime=False),
    ParameterSpec("device", NODE_DEFAULTS["device"],
                  "Compute device: auto = CUDA when available, else CPU.", choices=("auto", "cpu", "cuda")),
    ParameterSpec("backend", NODE_DEFAULTS["backend"],
                  "Learned method: auto = onnxruntime on the CPU (about 2x faster there), torch "
                  "on CUDA; or torch / onnxruntime.", choices=LEARNED_BACKENDS),
    ParameterSpec("precision", NODE_DEFAULTS["precision"],
                  "Learned methods: auto = fp16 autocast on CUDA, fp32 on the CPU; fp32 = always.",
                  choices=("auto", "fp32")),
    ParameterSpec("latency_budget_ms", 0.0, f"Answer a set with '{DEFAULT_METHOD}' when the method would finish it "
                  "later than this after its stamp (its recent inference time says so), instead of falling behind; "
                  "counted in budget_fallbacks. 0 = off.", 0.0, 10000.0),
    ParameterSpec("min_depth", NODE_DEFAULTS["min_depth"], "Smallest valid depth, metres.", 0.01, 10.0),
    ParameterSpec("max_depth", NODE_DEFAULTS["max_depth"], "Largest valid depth, metres.", 1.0, 1000.0),
    ParameterSpec("output_encoding", "32FC1", "Depth encoding: 32FC1 metres (NaN invalid) or 16UC1 mm (0 invalid).",
                  choices=("32FC1", "16UC1")),
    ParameterSpec("publish_points", False, "Also publish the dense depth as a coloured cloud on depth/points."),
    ParameterSpec("publish_sparse", False, "Also publish the projected LiDAR input on sparse_depth."),
    ParameterSpec("image_is_rectified", True, "Images are rectified (project with R, P) or raw (K, D).", runtime=False),
    ParameterSpec("occlusion_window", 0, "Drop LiDAR points hidden behind nearer ones in this pixel window (0 = off, odd).",
                  0, 31),
    ParameterSpec("use_lidar", NODE_DEFAULTS["use_lidar"],
                  "Subscribe to lidar/points, one output per sweep; false = radar-camera rig "
                  "without LiDAR, one output per image (needs use_radar and a radar method: radar, "
                  "radar_geometric).", runtime=False),
    ParameterSpec("use_radar", NODE_DEFAULTS["use_radar"],
                  "Subscribe to radar/points and attach radar when in time.", runtime=False),
    ParameterSpec("without_radar", NODE_DEFAULTS["without_radar"],
                  "Method radar, no radar in view: camera = the network from the image "
                  "alone, lidar = the classical fill of the LiDAR points (when there are any).",
                  choices=WITHOUT_RADAR_CHOICES),
    ParameterSpec("camera_height", NODE_DEFAULTS["camera_height"],
                  "Radar methods: camera height above the road, metres (the flat road that "
                  "cuts the radar columns); 0 = the rig the network was trained on (nuScenes CAM_FRONT, 1.51 m).",
                  0.0, 10.0),
    ParameterSpec("camera_pitch_deg", NODE_DEFAULTS["camera_pitch_deg"],
                  "Radar methods: downward pitch of the camera's optical axis, degrees.",
                  -30.0, 30.0),
    ParameterSpec("radar_fields", ["x", "y", "z", "rcs", "vx", "vy"],
                  "Radar PointCloud2 field names for x, y, z, rcs, vx, vy (drivers differ).",
                  array_type=_STRINGS, runtime=False),
    *extrinsic_parameters("lidar_to_camera", "LiDAR", "the camera optical frame"),
    *extrinsic_parameters("radar_to_camera", "Radar", "the camera optical frame"),
)

SUBSCRIBED = (
    TopicSpec("image", "sensor_msgs/Image", "rgb8, bgr8, rgba8, bgra8 or mono8."),
    TopicSpec("camera_info", "sensor_msgs/CameraInfo", "The one with the image's stamp, else the latest; the first "
              "frame waits up to 1 s for the first CameraInfo."),
    TopicSpec("lidar/points", "sensor_msgs/PointCloud2", "x, y, z (any layout); with `use_lidar: true`."),
    TopicSpec("radar/points", "sensor_msgs/PointCloud2", "Fields `radar_fields`; with `use_radar: true`."),
)
PUBLISHED = (
    TopicSpec("depth", "sensor_msgs/Image", "REP 118: 32FC1 metres with NaN = invalid, or 16UC1 millimetres "
              "(`output_encoding`); stamp and frame of the image."),
    TopicSpec("depth/confidence", "sensor_msgs/Image", "32FC1 in [0, 1]."),
    TopicSpec("depth/camera_info", "sensor_msgs/CameraInfo", "The camera of the output image."),
    TopicSpec("depth/points", "sensor_msgs/PointCloud2", "Coloured points of the depth; with `publish_points: true`."),
    TopicSpec("sparse_depth", "sensor_msgs/Image", "The projected LiDAR input, 32FC1; with `publish_sparse: true`."),
    TopicSpec("~/diagnostics", "diagnostic_msgs/DiagnosticArray", "1 Hz: rates, latency, drops by reason, device."),
)
INTERFACE = NodeInterface("depth_completion", "Camera + LiDAR (+ radar) in, dense metric depth out "
                          "(`dcr run`, `launch/depth_completion.launch.py`).", SUBSCRIBED, PUBLISHED, PARAMETERS)
INPUT_TOPICS = {"image": Image, "camera_info": CameraInfo, "lidar/points": PointCloud2, "radar/points": PointCloud2}
_SYNC_NAMES = {"image": "image", "camera_info": None, "lidar/points": "lidar", "radar/points": "radar"}
_INPUT_SWITCHES = {"lidar/points": "use_lidar", "radar/points": "use_radar"}  # topic -> parameter that enables it
_ENGINE_PARAMETERS = {"method", "weights", "device", "backend", "precision", "min_depth", "max_depth", "without_radar"}


def check_point_inputs(params: dict) -> None:
    """Raises ValueError when neither LiDAR nor radar is enabled (nothing would give metric depth)."""
    if not (params["use_lidar"] or params["use_radar"]):
        raise ValueError("parameters 'use_lidar' and 'use_radar' are both false: the node needs LiDAR or radar points; "
                         "set use_lidar: true (camera + LiDAR) or use_radar: true with method radar (radar-camera rig)")


class DepthCompletionNode(SynchronizedNode):
    """See the module docstring for topics and threading."""

    def __init__(self, **kwargs) -> None:
        super().__init__("depth_completion", PARAMETERS, **kwargs)
        self.engine = self._make_engine(self.params)
        self.extrinsics = ExtrinsicsSource(self, self.params, "depth_completion")
        self.pub_depth = self.create_publisher(Image, "depth", self.output_qos)
        self.pub_confidence = self.create_publisher(Image, "depth/confidence", self.output_qos)
        self.pub_info = self.create_publisher(CameraInfo, "depth/camera_info", self.output_qos)
        self.pub_points = self.create_publisher(PointCloud2, "depth/points", self.output_qos)
        self.pub_sparse = self.create_publisher(Image, "sparse_depth", self.output_qos)
        self.get_logger().info(
            f"depth completion: method '{self.engine.method}' on {describe_device(self.engine.device)}; "
            f"extrinsics from {'TF, then ' if self.extrinsics.uses_tf else ''}parameters"
        )
        self._warmed_size: tuple[int, int] | None = None
        self._fallback_engine: CompletionEngine | None = None  # for latency_budget_ms, made when first needed
        self._expected_inference_ms = 0.0  # running average of the method's inference time
        self.budget_fallbacks = 0
        self._warm_up(tuple(self.params["warm_up_size"]))
        self.ready()

    def inputs(self, params: dict) -> dict[str, tuple[type, str | None]]:
        """The enabled inputs; raises ValueError when use_lidar and use_radar are both false."""
        check_point_inputs(params)
        return {topic: (msg_type, _SYNC_NAMES[topic]) for topic, msg_type in INPUT_TOPICS.items()
                if topic not in _INPUT_SWITCHES or params[_INPUT_SWITCHES[topic]]}

    def sync_config(self, params: dict) -> SyncConfig:
        """Sets built around each LiDAR sweep, or around each image without LiDAR (:func:`sync_config`)."""
        return sync_config(params)

    def _make_engine(self, params: dict) -> CompletionEngine:
        """The configured engine (:func:`engine_arguments`); an unknown method or a
        missing/incompatible checkpoint falls back to the default method, with an error log
        and the ``model_error`` count."""
        if not params["use_lidar"] and params["method"] not in lidar_free_methods():
            self.get_logger().warning(f"use_lidar is false but method '{params['method']}' completes LiDAR points: "
                                      f"its depth will be empty; use one of: {', '.join(lidar_free_methods())}")
        arguments = engine_arguments(params)
        try:
            return CompletionEngine(**arguments)
        except (BadInputError, RuntimeError, KeyError, ValueError) as error:
            self.stats.bad("model_error")
            self.get_logger().error(
                f"cannot use method '{params['method']}' (weights '{params['weights']}'): {error}. "
                f"Falling back to '{DEFAULT_METHOD}'. Known methods: {', '.join(available_methods())}"
            )
            return CompletionEngine(**{**engine_arguments(params, DEFAULT_METHOD), "weights": None})

    def _warm_up(self, size: tuple[int, ...]) -> None:
        """Run the engine on synthetic frames of ``size`` (width, height) pixels, so the first
        real frames do not pay for allocations and lazy initialization; () = skip."""
        if len(size) != 2:
            return
        start = time.perf_counter()
        width, height = int(size[0]), int(size[1])
        self.engine.warm_up(CameraModel.from_intrinsics(width, width, width / 2, height / 2, width, height))
        self._warmed_size = (width, height)
        self.get_logger().info(f"method '{self.engine.method}' warmed up at {width}x{height} in "
                               f"{time.perf_counter() - start:.1f} s")

    def apply_parameters(self, updated: dict, changed: set[str]) -> None:
        if _ENGINE_PARAMETERS & changed:
            self.engine = self._make_engine(updated)
            self._fallback_engine, self._expected_inference_ms = None, 0.0
            if self._warmed_size is not None:
                self._warm_up(self._warmed_size)

    def diagnostic_values(self) -> dict[str, object]:
        # engine.*: dropped input pixels, non-finite outputs, fallbacks, the method's own counters
        return {"device": describe_device(self.engine.active_device()), "method": self.engine.method,
                "engine": self.engine.counters(), "budget_fallbacks": self.budget_fallbacks}

    def _engine_within_budget(self, stamp_ns: int) -> CompletionEngine:
        """The configured engine, or the default method's when the configured one would answer
        the set stamped ``stamp_ns`` later than ``latency_budget_ms`` (counted, logged)."""
        budget_ms = self.params["latency_budget_ms"]
        if budget_ms <= 0 or self.engine.method == DEFAULT_METHOD:
            return self.engine
        age_ms = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        if age_ms + self._expected_inference_ms <= budget_ms:
            return self.engine
        if self._fallback_engine is None:
            self._fallback_engine = CompletionEngine(DEFAULT_METHOD, device="cpu", min_depth=self.params["min_depth"],
                                                     max_depth=self.params["max_depth"])
        self.budget_fallbacks += 1
        self.warn("budget", f"a set {age_ms:.0f} ms old would take '{self.engine.method}' about "
                  f"{self._expected_inference_ms:.0f} ms more: answered with '{DEFAULT_METHOD}' within latency_budget_ms "
                  f"{budget_ms:g} (budget_fallbacks, {self.budget_fallbacks} in all)")
        return self._fallback_engine

    def _frame(self, matched: MatchedSet) -> DepthFrame:
        """Convert one synchronized set to arrays (raises BadInputError on bad input)."""
        image_msg = matched.messages["image"].payload
        lidar, radar = matched.messages.get("lidar"), matched.messages.get("radar")
        converted = depth_frame_from_messages(
            image_msg, self.camera_info_for("camera_info", image_msg), None if lidar is None else lidar.payload,
            self.extrinsics.lookup, radar=None if radar is None else radar.payload,
            rectified=self.params["image_is_rectified"], radar_fields=self.params["radar_fields"],
        )
        if converted.nonfinite_points:
            self.stats.bad("nonfinite_points", converted.nonfinite_points)
        if converted.radar_error is not None:  # radar is optional: go on without it, loudly
            self.stats.bad("bad_radar")
            self.warn("bad_radar", f"frame completed without radar, bad radar input (bad_radar): {converted.radar_error}")
        return converted.frame

    def process(self, matched: MatchedSet) -> None:
        image_msg = matched.messages["image"].payload
        frame = self._frame(matched)
        size = (frame.camera.image_model().width, frame.camera.image_model().height)
        if self._warmed_size is not None and self.engine.stats.frames == 0 and size != self._warmed_size:
            self._warm_up(size)  # the first frame of another size: before any counted frame
        stamp_ns = stamp_to_ns(image_msg.header.stamp)
        engine = self._engine_within_budget(stamp_ns)
        start = time.perf_counter()
        output = complete_frame(engine, frame, self.params["occlusion_window"] or None)
        inference_ms = (time.perf_counter() - start) * 1e3
        if engine is self.engine:  # running average, starting at the first frame's time
            weight = 0.2 if self._expected_inference_ms else 1.0
            self._expected_inference_ms += weight * (inference_ms - self._expected_inference_ms)
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


def main(args: list[str] | None = None) -> None:
    spin_nodes([DepthCompletionNode], args)


if __name__ == "__main__":
    main()
