"""Sensor extrinsics for nodes: TF when tf2_ros is importable, parameters as the fallback."""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.time import Time

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import parse_extrinsic, transform_from_xyz_quat

try:  # tf2_ros is not installable from PyPI; on a real ROS 2 install it is there.
    import tf2_ros
except ImportError:
    tf2_ros = None


def extrinsics_from_parameters(params: dict, prefixes: dict[str, str]) -> dict[str, tuple[str, np.ndarray | None]]:
    """sensor -> (parameter prefix, transform or None) from ``<prefix>.matrix`` (16 numbers)
    or ``<prefix>.xyz`` + ``<prefix>.quaternion`` parameter values.

    Raises:
        BadInputError: malformed values, naming the parameter.
    """
    out = {}
    for sensor, prefix in prefixes.items():
        matrix, xyz, quaternion = (params.get(f"{prefix}.{key}", []) for key in ("matrix", "xyz", "quaternion"))
        T = None
        if len(matrix):
            T = parse_extrinsic({"matrix": list(matrix)}, prefix)
        elif len(xyz) or len(quaternion):
            T = parse_extrinsic({"xyz": list(xyz), "quaternion": list(quaternion)}, prefix)
        out[sensor] = (prefix, T)
    return out


class ExtrinsicsSource:
    """Looks up ``T_camera_sensor``: from TF when available, else from parameters."""

    def __init__(self, node: Node, from_parameters: dict[str, tuple[str, np.ndarray | None]]) -> None:
        self._from_parameters = from_parameters
        self._buffer = None
        if tf2_ros is not None:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node)

    @property
    def uses_tf(self) -> bool:
        return self._buffer is not None

    def lookup(self, sensor: str, camera_frame: str, sensor_frame: str) -> np.ndarray:
        """(4, 4) ``T_camera_sensor`` (``camera_frame`` is the target frame of any lookup).

        Raises:
            BadInputError: neither TF nor the parameters know it.
        """
        if self._buffer is not None and camera_frame and sensor_frame:
            try:
                t = self._buffer.lookup_transform(camera_frame, sensor_frame, Time()).transform
                q, v = t.rotation, t.translation
                return transform_from_xyz_quat([v.x, v.y, v.z], [q.x, q.y, q.z, q.w])
            except tf2_ros.TransformException:
                pass
        prefix, fallback = self._from_parameters[sensor]
        if fallback is None:
            raise BadInputError(
                f"extrinsics.{sensor}",
                f"no transform {camera_frame} <- {sensor_frame}: publish it on TF or set the "
                f"'{prefix}.matrix' (16 numbers) or '{prefix}.xyz' + '{prefix}.quaternion' parameters",
            )
        return fallback
