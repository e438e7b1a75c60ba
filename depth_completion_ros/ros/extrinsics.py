"""Sensor extrinsics for nodes: TF when tf2_ros is importable, the node's parameters as the
fallback (:func:`~depth_completion_ros.pipeline.node_config.extrinsics_lookup`, shared with ``dcr eval``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from rclpy.node import Node
from rclpy.time import Time

from depth_completion_ros.geometry.transforms import transform_from_xyz_quat
from depth_completion_ros.pipeline.node_config import extrinsics_lookup

try:  # tf2_ros is not installable from PyPI; on a real ROS 2 install it is there.
    import tf2_ros
except ImportError:
    tf2_ros = None


class ExtrinsicsSource:
    """Looks up a node's extrinsics (``lookup(sensor, target frame, sensor frame)``): from TF
    when available, else from the node's parameters."""

    def __init__(self, node: Node, params: Mapping[str, object], node_name: str) -> None:
        self._buffer = None
        if tf2_ros is not None:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node)
        self.lookup = extrinsics_lookup(params, node_name, self._from_tf if self._buffer is not None else None)

    @property
    def uses_tf(self) -> bool:
        return self._buffer is not None

    def _from_tf(self, target_frame: str, source_frame: str) -> np.ndarray | None:
        try:
            t = self._buffer.lookup_transform(target_frame, source_frame, Time()).transform
        except tf2_ros.TransformException:
            return None
        q, v = t.rotation, t.translation
        return transform_from_xyz_quat([v.x, v.y, v.z], [q.x, q.y, q.z, q.w])
