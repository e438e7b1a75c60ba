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


def extrinsic_from_parameters(sensor: str, matrix: list[float], xyz: list[float], quaternion: list[float]) -> np.ndarray | None:
    """T_camera_sensor from ``<sensor>_to_camera.matrix`` or ``.xyz`` + ``.quaternion``
    parameters (the sensor's pose in the camera optical frame); None when neither is set.

    Raises:
        BadInputError: malformed values, naming the parameter.
    """
    field = f"{sensor}_to_camera"
    if len(matrix):
        return parse_extrinsic({"matrix": list(matrix)}, field)
    if len(xyz) or len(quaternion):
        return parse_extrinsic({"xyz": list(xyz), "quaternion": list(quaternion)}, field)
    return None


class ExtrinsicsSource:
    """Looks up ``T_camera_sensor``: from TF when available, else from parameters."""

    def __init__(self, node: Node, from_parameters: dict[str, np.ndarray | None]) -> None:
        self._from_parameters = from_parameters
        self._buffer = None
        if tf2_ros is not None:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node)

    @property
    def uses_tf(self) -> bool:
        return self._buffer is not None

    def lookup(self, sensor: str, camera_frame: str, sensor_frame: str) -> np.ndarray:
        """(4, 4) camera <- sensor transform.

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
        fallback = self._from_parameters.get(sensor)
        if fallback is None:
            raise BadInputError(
                f"extrinsics.{sensor}",
                f"no transform {camera_frame} <- {sensor_frame}: publish it on TF or set the "
                f"'{sensor}_to_camera.matrix' (16 numbers) or '.xyz' + '.quaternion' parameters",
            )
        return fallback
