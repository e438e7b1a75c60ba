"""QoS profiles by name, and a one-line description for start-up logs."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

QOS_NAMES = ("sensor_data", "reliable", "best_effort")


def qos_from_name(name: str, depth: int) -> QoSProfile:
    """``sensor_data`` (best effort, volatile: what camera and LiDAR drivers publish),
    ``reliable`` or ``best_effort``; keep-last ``depth``."""
    if name not in QOS_NAMES:
        raise ValueError(f"unknown QoS '{name}'; choose one of {', '.join(QOS_NAMES)}")
    reliability = ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability, durability=DurabilityPolicy.VOLATILE
    )


def describe_qos(profile: QoSProfile) -> str:
    return (
        f"{profile.reliability.name.lower()}, {profile.durability.name.lower()}, "
        f"{profile.history.name.lower()} depth {profile.depth}"
    )
