"""Header and time-stamp helpers (integer nanoseconds internally)."""

from __future__ import annotations

from std_msgs.msg import Header

_NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (any object with ``sec`` and ``nanosec``)."""
    return int(stamp.sec) * _NS_PER_S + int(stamp.nanosec)


def make_header(stamp_ns: int, frame_id: str) -> Header:
    """A ``std_msgs/Header`` for ``stamp_ns`` nanoseconds and ``frame_id``."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), _NS_PER_S)
    return header
