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

from mcap.exceptions import EndOfFile, McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import TransformTree, transform_from_xyz_quat

MCAP_MAGIC = b"\x89MCAP0\r\n"  # the first 8 bytes of every MCAP file (MCAP specification)

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


class _RosbagsSource:
    """Any complete bag, through rosbags' AnyReader."""

    truncated = False

    def __init__(self, path: Path, typestore) -> None:
        self._reader = AnyReader([path], default_typestore=typestore)
        self._reader.open()
        self.is_ros2 = bool(self._reader.is2)
        self.topics = {name: (info.msgtype, info.msgcount) for name, info in self._reader.topics.items()}

    def records(self, wanted: set[str] | None) -> Iterator[tuple[str, str, int, bytes]]:
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        for connection, log_time, raw in self._reader.messages(connections=connections):
            yield connection.topic, connection.msgtype, log_time, raw

    def deserialize(self, raw: bytes, msgtype: str):
        return self._reader.deserialize(raw, msgtype)

    def close(self) -> None:
        self._reader.close()


class _CutOffMcapSource:
    """An MCAP file without its summary and footer (the recorder was killed, the disk
    filled up): read linearly, every complete message before the cut is usable."""

    truncated = True
    is_ros2 = True

    def __init__(self, path: Path, typestore) -> None:
        self.path, self._typestore = path, typestore
        with open(path, "rb") as handle:
            if handle.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
                raise BadInputError(str(path), "not an MCAP file (no MCAP magic at its start)")
        self.topics: dict[str, tuple[str, int]] = {}
        for topic, msgtype, _, _ in self.records(None):
            self.topics[topic] = (msgtype, self.topics.get(topic, (msgtype, 0))[1] + 1)
        if not self.topics:
            raise BadInputError(str(path), "an MCAP file cut off before its first complete message (the recording "
                                           "stopped at its start): nothing to read")

    def records(self, wanted: set[str] | None) -> Iterator[tuple[str, str, int, bytes]]:
        schemas, channels = {}, {}
        with open(self.path, "rb") as handle:
            try:
                for record in StreamReader(handle).records:
                    if isinstance(record, Schema):
                        schemas[record.id] = record.name
                    elif isinstance(record, Channel):
                        channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                    elif isinstance(record, Message) and record.channel_id in channels:
                        topic, msgtype = channels[record.channel_id]
                        if wanted is None or topic in wanted:
                            yield topic, msgtype, record.log_time, record.data
            except (EndOfFile, McapError):
                return

    def deserialize(self, raw: bytes, msgtype: str):
        return self._typestore.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        pass


def _mcap_file(path: Path) -> Path | None:
    if path.suffix == ".mcap":
        return path
    files = sorted(path.glob("*.mcap")) if path.is_dir() else []
    return files[0] if len(files) == 1 else None


class Bag:
    """An open bag. Use as a context manager.

    Args:
        path: bag directory (ROS 2), ``.mcap`` / ``.db3`` file, or ROS 1 ``.bag`` file.

    An MCAP recording that was cut off (no summary/footer) is read up to the cut:
    :attr:`truncated` is then True, :attr:`truncation_note` says so in one line, and
    :meth:`messages` yields every complete message before the cut.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BadInputError(str(self.path), "bag not found; give the bag directory or file")
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        try:
            self._source = _RosbagsSource(self.path, self.typestore)
        except (AnyReaderError, OSError, ValueError, KeyError) as error:
            mcap = _mcap_file(self.path)
            if mcap is None:
                raise BadInputError(str(self.path), f"cannot open the bag (corrupt or not a bag?): {error}") from None
            try:
                self._source = _CutOffMcapSource(mcap, self.typestore)
            except BadInputError as cut:
                raise BadInputError(str(self.path), f"cannot open the bag: {cut.problem}") from None
            except (McapError, OSError):
                raise BadInputError(str(self.path), f"cannot open the bag (corrupt or not a bag?): {error}") from None

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._source.close()

    @property
    def is_ros2(self) -> bool:
        return self._source.is_ros2

    @property
    def truncated(self) -> bool:
        return self._source.truncated

    @property
    def truncation_note(self) -> str:
        count = sum(n for _, n in self.topics.values())
        return (f"{self.path}: cut off after {count} complete message(s) (no MCAP footer: the recording was "
                "interrupted); the messages before the cut were used")

    @property
    def topics(self) -> dict[str, tuple[str, int]]:
        """topic -> (message type, message count)."""
        return self._source.topics

    def require(self, topics: Iterable[str], types: dict[str, str] | None = None) -> None:
        """Raise a one-line error naming the first topic the bag does not have, or whose
        message type is not the one given in ``types`` (topic -> ``pkg/msg/Name``)."""
        for topic in topics:
            if topic not in self.topics:
                have = ", ".join(f"{t} ({m})" for t, (m, _) in sorted(self.topics.items()))
                raise BadInputError(str(self.path), f"has no topic '{topic}'; it has: {have}")
            expected = (types or {}).get(topic)
            if expected and self.topics[topic][0] != expected:
                raise BadInputError(str(self.path), f"topic '{topic}' carries {self.topics[topic][0]}, expected "
                                    f"{expected} (convert or republish it, e.g. decompress CompressedImage)")

    def messages(self, topics: Iterable[str] | None = None, deserialize: bool = True) -> Iterator[BagMessage]:
        """Stream the messages of ``topics`` (all when None) in log-time order.

        Raises:
            BadInputError: an unknown message type, or a corrupt/truncated bag (raised when
                the reader reaches the damage, after every readable message was yielded).
        """
        wanted = None if topics is None else set(topics)
        count = 0
        try:
            for topic, msgtype, log_time, raw in self._source.records(wanted):
                msg = self._deserialize(raw, msgtype) if deserialize else None
                stamp = header_stamp_ns(msg, log_time) if msg is not None else log_time
                count += 1
                yield BagMessage(topic, msgtype, stamp, log_time, bytes(raw), msg)
        except BadInputError:
            raise
        except Exception as error:  # rosbags raises many types for damaged storage
            raise BadInputError(
                str(self.path), f"unreadable after {count} message(s) (truncated or corrupt bag): {error}"
            ) from None

    def _deserialize(self, raw: bytes, msgtype: str):
        try:
            return self._source.deserialize(raw, msgtype)
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
