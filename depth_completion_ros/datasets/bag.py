"""Reading recorded bags without ROS: ROS 2 MCAP / sqlite3 and ROS 1 ``.bag``, via rosbags.

Messages stream in log-time order (a bag is never loaded whole). Deserialized messages
are rosbags classes with the same fields as the ROS ones, so the package's message
readers (``ros.image``, ``ros.pointcloud``, ``ros.camera_info``) read them directly.
Every problem (missing file, corrupt or truncated bag, missing topic, unknown message
type) raises :class:`~depth_completion_ros.errors.BadInputError` naming the bag.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import TransformTree, transform_from_xyz_quat

TF_STATIC_TOPIC = "/tf_static"
_NS = 1_000_000_000


@dataclass(frozen=True)
class BagMessage:
    """One message: topic, type, header stamp (log time when the type has no header)."""

    topic: str
    msgtype: str
    stamp_ns: int
    log_time_ns: int
    raw: bytes
    msg: object

    @property
    def frame_id(self) -> str:
        header = getattr(self.msg, "header", None)
        return header.frame_id if header is not None else ""


def header_stamp_ns(msg, default: int) -> int:
    header = getattr(msg, "header", None)
    return default if header is None else int(header.stamp.sec) * _NS + int(header.stamp.nanosec)


class Bag:
    """An open bag. Use as a context manager.

    Args:
        path: bag directory (ROS 2), ``.mcap`` / ``.db3`` file, or ROS 1 ``.bag`` file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BadInputError(str(self.path), "bag not found; give the bag directory or file")
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        try:
            self._reader = AnyReader([self.path], default_typestore=self.typestore)
            self._reader.open()
        except (AnyReaderError, OSError, ValueError, KeyError) as error:
            raise BadInputError(str(self.path), f"cannot open the bag (corrupt or not a bag?): {error}") from None

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    @property
    def is_ros2(self) -> bool:
        return bool(self._reader.is2)

    @property
    def topics(self) -> dict[str, tuple[str, int]]:
        """topic -> (message type, message count)."""
        return {name: (info.msgtype, info.msgcount) for name, info in self._reader.topics.items()}

    def require(self, topics: Iterable[str]) -> None:
        """Raise a one-line error naming the first topic the bag does not have."""
        for topic in topics:
            if topic not in self.topics:
                have = ", ".join(f"{t} ({m})" for t, (m, _) in sorted(self.topics.items()))
                raise BadInputError(str(self.path), f"has no topic '{topic}'; it has: {have}")

    def messages(self, topics: Iterable[str] | None = None, deserialize: bool = True) -> Iterator[BagMessage]:
        """Stream the messages of ``topics`` (all when None) in log-time order.

        Raises:
            BadInputError: an unknown message type, or a corrupt/truncated bag (raised when
                the reader reaches the damage, after every readable message was yielded).
        """
        wanted = None if topics is None else set(topics)
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        count = 0
        try:
            for connection, log_time, raw in self._reader.messages(connections=connections):
                msg = self._deserialize(raw, connection.msgtype) if deserialize else None
                stamp = header_stamp_ns(msg, log_time) if msg is not None else log_time
                count += 1
                yield BagMessage(connection.topic, connection.msgtype, stamp, log_time, bytes(raw), msg)
        except BadInputError:
            raise
        except Exception as error:  # rosbags raises many types for damaged storage
            raise BadInputError(
                str(self.path), f"unreadable after {count} message(s) (truncated or corrupt bag): {error}"
            ) from None

    def _deserialize(self, raw: bytes, msgtype: str):
        try:
            return self._reader.deserialize(raw, msgtype)
        except Exception as error:  # unknown type or definition mismatch
            raise BadInputError(str(self.path), f"cannot decode a '{msgtype}' message: {error}") from None

    def to_cdr(self, message: BagMessage) -> bytes:
        """The message as ROS 2 CDR bytes (ROS 2 bags store CDR already; ROS 1 is converted)."""
        if self.is_ros2:
            return message.raw
        return bytes(self.typestore.serialize_cdr(message.msg, message.msgtype))

    def static_transforms(self) -> TransformTree:
        """Every transform on ``/tf_static`` (empty tree when the bag has none)."""
        tree = TransformTree()
        if TF_STATIC_TOPIC not in self.topics:
            return tree
        for message in self.messages([TF_STATIC_TOPIC]):
            for stamped in message.msg.transforms:
                t, q = stamped.transform.translation, stamped.transform.rotation
                tree.add(stamped.header.frame_id, stamped.child_frame_id,
                         transform_from_xyz_quat([t.x, t.y, t.z], [q.x, q.y, q.z, q.w]))
        return tree
