"""What every synchronized processing node of the package shares.

* parameters from a :class:`ParameterSpec` table (descriptors, ranges, runtime rules);
* QoS by parameter, logged per input at start-up, and a warning naming each input that
  stays silent (the usual cause: a QoS mismatch);
* the synchronizer policy (ROS-free) fed by the intake callbacks, and a bounded
  :class:`SetQueue` drained by the node's own worker thread, so slow inference never
  blocks intake, a burst of sets is answered in order, and when the worker falls
  ``work_queue_size`` sets behind the oldest is skipped (``skipped_busy``);
* every drop (synchronizer reasons, ``skipped_busy``) counted and logged, rate-limited per
  reason;
* CameraInfo caches matched to images by stamp;
* bad input: one rate-limited log line per kind and a diagnostic counter, never a crash;
* diagnostics at 1 Hz; a backwards clock jump (``use_sim_time``, a looping bag) resets the
  synchronizer.

Subclasses give their parameter table, implement :meth:`inputs`, :meth:`sync_config`,
:meth:`process` and :meth:`diagnostic_values`, and call :meth:`ready` when set up.

Threads: the executor (one thread) runs only the intake callbacks, the diagnostics timer
and the parameter services, all short. Processing runs in a plain worker thread blocked on
the set queue, not in a second callback group of a MultiThreadedExecutor: rclpy's
MultiThreadedExecutor busy-waits while a mutually exclusive group is running (its wait set
keeps returning the entity it cannot dispatch), and that loop took over half the node's
samples and the GIL from the worker, stalling outputs by hundreds of milliseconds.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterType
from rclpy.clock import Clock, ClockType, JumpThreshold
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.node_config import NODE_DEFAULTS, camera_info_for_image
from depth_completion_ros.pipeline.sync import ApproximateSync, MatchedSet, SetQueue, SyncConfig
from depth_completion_ros.ros.diagnostics import NodeStatistics, diagnostic_array
from depth_completion_ros.ros.parameters import ParameterSpec, check_update, declare_all
from depth_completion_ros.ros.qos import QOS_NAMES, describe_qos, qos_from_name
from depth_completion_ros.ros.stamps import stamp_to_ns

THROTTLE_S = 5.0  # at most one log line per kind of problem in this many seconds
# A set can be complete before the first CameraInfo is taken in: DDS delivers each topic on
# its own reader, and the executor picks any ready callback. Processing waits this long for
# it (intake runs in the executor thread) before the set counts as no_camera_info.
FIRST_CAMERA_INFO_WAIT_S = 1.0
# Later sets wait at most this long for the CameraInfo with their image's stamp (when the
# topic stamps them so), instead of taking the previous frame's.
CAMERA_INFO_STAMP_WAIT_S = 0.1

COMMON_PARAMETERS = (
    ParameterSpec("slop", NODE_DEFAULTS["slop"], "Largest stamp difference inside a synchronized set, seconds.", 0.0, 1.0, runtime=False),
    ParameterSpec("queue_size", NODE_DEFAULTS["queue_size"], "Messages kept per input while waiting for partners.", 1, 100, runtime=False),
    ParameterSpec("work_queue_size", 5, "Synchronized sets kept waiting while the worker is busy; when full, the "
                  "oldest is skipped (drops.skipped_busy).", 1, 100, runtime=False),
    ParameterSpec("input_qos", "sensor_data", "QoS of the subscriptions.", choices=QOS_NAMES, runtime=False),
    ParameterSpec("output_qos", "reliable", "QoS of the publishers.", choices=QOS_NAMES, runtime=False),
    ParameterSpec("qos_depth", 5, "History depth of subscriptions and publishers.", 1, 100, runtime=False),
    ParameterSpec("no_input_warning", 5.0, "Warn when an input has been silent this long, seconds.", 0.5, 3600.0),
)

def extrinsic_parameters(prefix: str, sensor: str, target: str) -> tuple[ParameterSpec, ...]:
    """The three parameters that give one extrinsic: ``<prefix>.matrix`` (16 numbers) or
    ``<prefix>.xyz`` + ``<prefix>.quaternion``; used when TF has no such transform."""
    doubles = ParameterType.PARAMETER_DOUBLE_ARRAY
    return (
        ParameterSpec(f"{prefix}.matrix", [], f"{sensor} pose in {target}, 16 numbers row-major "
                      "(used when TF has no transform).", array_type=doubles, runtime=False),
        ParameterSpec(f"{prefix}.xyz", [], f"{sensor} position in {target}, metres.", array_type=doubles,
                      runtime=False),
        ParameterSpec(f"{prefix}.quaternion", [], f"{sensor} orientation in {target} (x, y, z, w).",
                      array_type=doubles, runtime=False),
    )


# (prefix of BadInputError.field, counter name), first match wins
BAD_INPUT_KINDS = (
    ("Image.encoding", "wrong_encoding"), ("image", "image_size_mismatch"), ("Image", "bad_image"),
    ("CameraInfo", "bad_camera_info"), ("camera_info", "no_camera_info"), ("PointCloud2", "bad_cloud"),
    ("lidar.projection", "no_projection"), ("lidar", "empty_cloud"), ("extrinsics", "missing_extrinsics"),
    ("stereo", "stereo_mismatch"),
)


# the log line of each drop reason (``unused`` partners are expected and not logged);
# {new}: count since the reason's last line, {total}: count since start, {pivot}: the pivot input
DROP_LOG_LINES = {
    "too_old": "dropped {new} message(s) older than the last synchronized set (drops.too_old, {total} in all): "
               "late or reordered delivery",
    "no_partner": "dropped {new} '{pivot}' message(s) with no partner within 'slop' on a required input "
                  "(drops.no_partner, {total} in all): check the stamps, the rates and 'slop'",
    "queue_overflow": "dropped {new} message(s) from a full input queue while waiting for partners "
                      "(drops.queue_overflow, {total} in all): is a required input missing?",
    "sync_resets": "time went backwards (a looping bag or a clock reset): the synchronizer was reset "
                   "({total} resets; its queued messages count as drops.time_jump)",
    "skipped_busy": "skipped {new} synchronized set(s): processing fell 'work_queue_size' sets behind "
                    "(drops.skipped_busy, {total} in all)",
}


def bad_input_kind(field: str) -> str:
    """A short counter name for the field a BadInputError names."""
    return next((kind for prefix, kind in BAD_INPUT_KINDS if field.startswith(prefix)), "other")


class SynchronizedNode(Node):
    """Base class; see the module docstring.

    Args:
        name: node name.
        parameters: the node's parameter table (:data:`COMMON_PARAMETERS` included).
    """

    def __init__(self, name: str, parameters: tuple[ParameterSpec, ...], **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.parameter_specs = parameters
        self.params = declare_all(self, parameters)
        self.stats = NodeStatistics()
        inputs = self.inputs(self.params)
        self.sync = ApproximateSync(self.sync_config(self.params))
        self.work_queue = SetQueue(self.params["work_queue_size"])
        self._drops_logged: dict[str, int] = {}
        self._drops_lock = threading.Lock()
        self._inputs = inputs
        self._camera_infos: dict[str, deque[CameraInfo]] = {
            topic: deque(maxlen=self.params["queue_size"]) for topic, (_, name_) in inputs.items() if name_ is None
        }
        self._camera_info_arrived = threading.Condition()
        self._info_stamped: dict[str, bool] = {}  # info topic -> its last lookup found the image's stamp
        self._last_input: dict[str, float] = {}
        self._last_warning: dict[str, float] = {}
        self._started = time.monotonic()

        self.input_qos = qos_from_name(self.params["input_qos"], self.params["qos_depth"])
        self.output_qos = qos_from_name(self.params["output_qos"], self.params["qos_depth"])
        for topic, (msg_type, _) in inputs.items():
            self.create_subscription(msg_type, topic, self._intake_callback(topic), self.input_qos)
            self.get_logger().info(f"input '{self.resolve_topic_name(topic)}' QoS: {describe_qos(self.input_qos)}")
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "~/diagnostics", 10)
        self._worker = threading.Thread(target=self._work_loop, name=f"{name}_worker", daemon=True)
        # Wall-clock (steady) timer: with use_sim_time a paused or looping /clock must not
        # stop the diagnostics that would tell why nothing comes out.
        self.create_timer(1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # use_sim_time: when /clock jumps back (a bag loops), start matching afresh.
        self._jump_handler = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(seconds=-0.5), on_clock_change=True),
            post_callback=self._on_clock_jump,
        )

    # ---- for subclasses --------------------------------------------------------------
    def inputs(self, params: dict) -> dict[str, tuple[type, str | None]]:
        """topic -> (message type, synchronizer input name, or None for a CameraInfo cached
        for :meth:`camera_info_for`), given the declared parameter values."""
        raise NotImplementedError

    def sync_config(self, params: dict) -> SyncConfig:
        """The synchronizer configuration, given the declared parameter values."""
        raise NotImplementedError

    def process(self, matched: MatchedSet) -> None:
        """Convert, compute and publish one synchronized set (in the worker thread)."""
        raise NotImplementedError

    def diagnostic_values(self) -> dict[str, object]:
        """Node-specific diagnostic key/values (device, method, ...)."""
        return {}

    def apply_parameters(self, updated: dict, changed: set[str]) -> None:
        """Called after a runtime change was accepted; ``self.params`` is then ``updated``."""

    def ready(self) -> None:
        """Subclasses call this at the end of their set-up (models loaded and warmed up):
        starts the worker, logs that the node is ready and starts the silent-input clock."""
        self._started = time.monotonic()
        self._worker.start()
        self.get_logger().info("ready")

    def destroy_node(self) -> None:
        """Stop the worker (it finishes the set in progress) before the publishers go."""
        self.work_queue.close()
        if self._worker.is_alive():
            self._worker.join(timeout=10.0)
        super().destroy_node()

    # ---- shared helpers ----------------------------------------------------------------
    def warn(self, kind: str, text: str) -> bool:
        """Log at most one line per kind every few seconds (a broken sensor floods otherwise);
        returns whether this line was logged."""
        now = time.monotonic()
        if now - self._last_warning.get(kind, -np.inf) < THROTTLE_S:
            return False
        self._last_warning[kind] = now
        self.get_logger().warning(text)
        return True

    def bad_input(self, error: BadInputError) -> None:
        kind = bad_input_kind(error.field)
        self.stats.bad(kind)
        self.warn(kind, f"dropped a frame, bad input ({kind}): {error}")

    def camera_info_for(self, info_topic: str, image_msg) -> CameraInfo:
        """The CameraInfo of ``info_topic`` with the image's stamp, else the latest one.

        Before the first CameraInfo of the topic, waits up to :data:`FIRST_CAMERA_INFO_WAIT_S`
        for it to be taken in; when the topic's CameraInfos carry their images' stamps (the
        last lookup found one), waits up to :data:`CAMERA_INFO_STAMP_WAIT_S` for this image's,
        since a set can be complete before its CameraInfo is taken in (so call it from the
        worker thread, not from intake).
        """
        stamp = image_msg.header.stamp

        def usable() -> bool:
            infos = self._camera_infos[info_topic]
            return bool(infos) and (not self._info_stamped.get(info_topic, False)
                                    or any(info.header.stamp == stamp for info in infos))

        with self._camera_info_arrived:
            first = not self._camera_infos[info_topic]
            self._camera_info_arrived.wait_for(
                usable, timeout=FIRST_CAMERA_INFO_WAIT_S if first else CAMERA_INFO_STAMP_WAIT_S)
            infos = list(self._camera_infos[info_topic])
        info, self._info_stamped[info_topic] = camera_info_for_image(infos, image_msg, info_topic)
        return info

    # ---- internals ---------------------------------------------------------------------
    def _on_set_parameters(self, parameters):
        result = check_update(self.parameter_specs, parameters)
        if result.successful:
            changed = {p.name for p in parameters}
            updated = {**self.params, **{p.name: p.value for p in parameters}}
            self.apply_parameters(updated, changed)
            self.params = updated
        return result

    def _intake_callback(self, topic: str):
        sync_name = self._inputs[topic][1]

        def callback(msg) -> None:
            self.stats.received(topic)
            self._last_input[topic] = time.monotonic()
            if sync_name is None:
                with self._camera_info_arrived:
                    self._camera_infos[topic].append(msg)
                    self._camera_info_arrived.notify_all()
                return
            matched_sets = self.sync.add(sync_name, stamp_to_ns(msg.header.stamp), msg)
            for matched in matched_sets:
                self.stats.synchronized()
                self.work_queue.put(matched)
            self._log_new_drops()

        return callback

    def _drop_counts(self) -> dict[str, int]:
        """Drops by reason (the synchronizer's and ``skipped_busy``) and synchronizer resets."""
        sync = self.sync.stats()
        return {**sync["drops"], "skipped_busy": self.work_queue.skipped, "sync_resets": sync["resets"]}

    def _log_new_drops(self) -> None:
        """A rate-limited log line per drop reason whose count grew since its last line."""
        with self._drops_lock:
            counts = self._drop_counts()
            for reason, line in DROP_LOG_LINES.items():
                new = counts[reason] - self._drops_logged.get(reason, 0)
                if new > 0 and self.warn(f"drop {reason}", line.format(new=new, total=counts[reason],
                                                                       pivot=self.sync.config.pivot)):
                    self._drops_logged[reason] = counts[reason]

    def _on_clock_jump(self, _jump) -> None:
        self.sync.reset()
        self._log_new_drops()

    def _work_loop(self) -> None:
        """The worker thread: process the queued sets, oldest first, until the queue closes."""
        while (matched := self.work_queue.take()) is not None:
            try:
                self.process(matched)
            except BadInputError as error:
                self.bad_input(error)
            except Exception as error:  # a robot node must survive any single frame; say what broke
                self.stats.bad("internal_error")
                self.warn("internal_error", f"frame dropped, internal error (internal_error): {error!r}\n"
                          f"{traceback.format_exc()}")

    def _publish_diagnostics(self) -> None:
        snapshot = self.stats.snapshot()
        drops = self._drop_counts()
        resets = drops.pop("sync_resets")
        warnings = self._silent_inputs()
        node_values = self.diagnostic_values()
        values = {
            **{k: v for k, v in snapshot.items() if v is not None},
            **node_values,
            "drops": drops,
            "sync_resets": resets,
        }
        if snapshot["bad_input"]:
            warnings.append(f"bad input: {snapshot['bad_input']}")
        name = f"{self.get_fully_qualified_name()}"
        hardware = str(node_values.get("device", ""))
        self.pub_diagnostics.publish(diagnostic_array(name, hardware, values, self.get_clock().now().to_msg(), warnings))

    def _silent_inputs(self) -> list[str]:
        """Inputs silent for longer than ``no_input_warning``, logged with the likely cause."""
        limit = self.params["no_input_warning"]
        now = time.monotonic()
        silent = []
        for topic, (_, sync_name) in self._inputs.items():
            if sync_name is not None and sync_name in self.sync.config.optional:
                continue  # optional inputs may be absent
            last = self._last_input.get(topic, self._started)
            if now - last > limit:
                silent.append(topic)
                self.warn(
                    f"silent {topic}",
                    f"no message on '{self.resolve_topic_name(topic)}' for {now - last:.0f} s: is it published? "
                    f"A QoS mismatch (this node subscribes with '{self.params['input_qos']}') starves a "
                    "subscription silently; check 'ros2 topic info -v'",
                )
        return [f"no input on {', '.join(silent)}"] if silent else []


def spin_nodes(node_classes: list[type[Node]], args: list[str] | None = None,
               on_start: Callable[[list[Node]], None] | None = None) -> None:
    """Create the nodes and spin them in one SingleThreadedExecutor until SIGINT/SIGTERM,
    then shut down cleanly (no traceback). The executor thread takes messages in for every
    node; each node processes them in its own worker thread (see the module docstring)."""
    rclpy.init(args=args)
    nodes: list[Node] = []
    executor = None
    try:
        nodes = [cls() for cls in node_classes]
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        if on_start is not None:
            on_start(nodes)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
