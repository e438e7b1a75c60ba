"""Bag replay and recording over live ROS 2 topics, without ros2cli.

:class:`BagReplayer` publishes a bag's messages as they were recorded (serialized CDR
bytes are forwarded, never re-encoded), paced by their log times, and publishes
``/clock`` for ``use_sim_time``. :class:`TopicRecorder` writes chosen live topics into a
new MCAP bag. Together they stand in for ``ros2 bag play`` / ``ros2 bag record``.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from depth_completion_ros.datasets.bag import Bag, BagMessage
from depth_completion_ros.datasets.bag_writer import BagWriter

REPLAY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def message_class(msgtype: str):
    """The rclpy message class of ``pkg/msg/Name``, or None when that package is absent."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        return None


class BagReplayer:
    """Publishes a bag's topics into the ROS graph.

    Args:
        node: the node that owns the publishers.
        bag: an open bag.
        topics: topics to publish (default: all whose message package is importable).
        rate: playback speed factor (1.0 = as recorded; 0 = as fast as possible).
        publish_clock: publish ``/clock`` from the log times (for ``use_sim_time``).

    Topics whose message type has no Python package here (e.g. ``tf2_msgs``, which is not
    on PyPI) are skipped and listed in :attr:`skipped`.
    """

    def __init__(self, node: Node, bag: Bag, topics: Iterable[str] | None = None, rate: float = 1.0,
                 publish_clock: bool = True) -> None:
        self.bag = bag
        self.rate = rate
        wanted = list(bag.topics) if topics is None else list(topics)
        bag.require(wanted)
        self.publishers = {}
        self.skipped: list[str] = []
        for topic in wanted:
            cls = message_class(bag.topics[topic][0])
            if cls is None:
                self.skipped.append(topic)
                continue
            self.publishers[topic] = node.create_publisher(cls, topic, REPLAY_QOS)
        self.clock = node.create_publisher(Clock, "/clock", 10) if publish_clock else None
        self.published = 0

    def wait_for_subscribers(self, topics: Iterable[str], timeout_s: float = 30.0) -> bool:
        """Block until each of ``topics`` has a matched subscriber (or the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self.publishers[t].get_subscription_count() > 0 for t in topics if t in self.publishers):
                return True
            time.sleep(0.05)
        return False

    def play(self, on_publish: Callable[[BagMessage, int], None] | None = None,
             stop: threading.Event | None = None) -> int:
        """Publish every message once, in log-time order; returns how many were published.

        Args:
            on_publish: called with (message, wall-clock publish time in ns) after each one.
            stop: set it to end playback early.
        """
        start_wall = time.monotonic()
        start_log = None
        count = 0
        for message in self.bag.messages(list(self.publishers)):
            if stop is not None and stop.is_set():
                break
            start_log = message.log_time_ns if start_log is None else start_log
            if self.rate > 0:
                due = start_wall + (message.log_time_ns - start_log) / 1e9 / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
            if self.clock is not None:
                clock = Clock()
                clock.clock.sec, clock.clock.nanosec = divmod(message.log_time_ns, 1_000_000_000)
                self.clock.publish(clock)
            self.publishers[message.topic].publish(self.bag.to_cdr(message))
            count += 1
            if on_publish is not None:
                on_publish(message, time.time_ns())
        self.published += count
        self.flush()
        return count

    def prime(self, timeout_s: float = 10.0) -> bool:
        """Publish the first message of every topic once and wait for its acknowledgement.

        DDS sets up reliable large-data channels lazily: the first samples of a fresh
        connection can wait for a retransmission (Fast DDS heartbeats every ~3 s), which a
        timed replay turns into dropped frames. Priming takes that wait out of the replay
        (the subscriber sees the first messages twice). Returns whether all were acked.
        """
        first: dict[str, BagMessage] = {}
        for message in self.bag.messages(list(self.publishers)):
            first.setdefault(message.topic, message)
            if len(first) == len(self.publishers):
                break
        for message in first.values():
            self.publishers[message.topic].publish(self.bag.to_cdr(message))
        return self.flush(timeout_s)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until matched reliable subscribers acknowledged everything published, so
        a replay that ends (or a process that exits) right after publishing loses nothing."""
        deadline = Duration(seconds=timeout_s)
        return all(publisher.wait_for_all_acked(deadline) for publisher in self.publishers.values())


class TopicRecorder:
    """Records live topics (serialized, as received) into a new MCAP bag, through the
    package's one bag writer (:class:`~depth_completion_ros.datasets.bag_writer.BagWriter`).

    Args:
        node: the node that owns the subscriptions.
        out: the bag directory to create (must not exist).
        topics: topic -> message type (``pkg/msg/Name``).
    """

    def __init__(self, node: Node, out: str | Path, topics: dict[str, str]) -> None:
        classes = {topic: message_class(msgtype) for topic, msgtype in topics.items()}
        missing = [f"{topic} ({topics[topic]})" for topic, cls in classes.items() if cls is None]
        if missing:
            raise ValueError(f"cannot record {', '.join(missing)}: no Python package for the message type")
        self._bag = BagWriter(out, topics).__enter__()  # closed by close()
        self._lock = threading.Lock()
        self.counts = self._bag.counts
        self.paused = False  # while True, arriving messages are not recorded (e.g. a replay's priming)
        self.subscriptions = [node.create_subscription(cls, topic, self._callback(topic), REPLAY_QOS, raw=True)
                              for topic, cls in classes.items()]

    def _callback(self, topic: str):
        def record(raw: bytes) -> None:
            if self.paused:
                return
            with self._lock:
                self._bag.write_serialized(topic, raw, time.time_ns())

        return record

    def close(self) -> None:
        with self._lock:
            self._bag.__exit__(None, None, None)
