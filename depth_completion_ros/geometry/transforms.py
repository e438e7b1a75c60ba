"""Rigid transforms as 4x4 matrices.

Naming: ``T_a_b`` maps points expressed in frame ``b`` into frame ``a`` ("a from b"), so
``T_a_c = compose(T_a_b, T_b_c)``. Quaternions are ``(x, y, z, w)`` as in
``geometry_msgs/Quaternion``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from depth_completion_ros.errors import BadInputError

_ROTATION_TOLERANCE = 1e-4


def make_transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(4, 4) float64 transform from a (3, 3) rotation and a (3,) translation in metres."""
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return T


def quaternion_to_matrix(quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation from a quaternion ``(x, y, z, w)``; it is normalized first."""
    q = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(4)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-9:
        raise BadInputError("quaternion", f"must be a finite non-zero (x, y, z, w), got {q.tolist()}")
    x, y, z, w = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """(4,) quaternion ``(x, y, z, w)`` with ``w >= 0`` from a (3, 3) rotation (Shepperd)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def transform_from_xyz_quat(xyz: Sequence[float], quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """(4, 4) transform from a translation (metres) and a quaternion ``(x, y, z, w)``."""
    return make_transform(quaternion_to_matrix(quaternion_xyzw), np.asarray(xyz, dtype=np.float64))


def xyz_quat_from_transform(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(xyz (3,), quaternion_xyzw (4,))`` of a (4, 4) rigid transform."""
    return np.array(T[:3, 3], dtype=np.float64), matrix_to_quaternion(T[:3, :3])


def invert_transform(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid (4, 4) transform, using ``R^T`` rather than a general inverse."""
    R = T[:3, :3]
    return make_transform(R.T, -R.T @ T[:3, 3])


def compose(*transforms: np.ndarray) -> np.ndarray:
    """Product ``T1 @ T2 @ ...``: ``compose(T_a_b, T_b_c)`` is ``T_a_c``."""
    result = np.eye(4)
    for T in transforms:
        result = result @ T
    return result


def apply_affine(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(N, 3) ``points @ M[:, :3].T + M[:, 3]`` for a (3, 4) ``M``, in the points' dtype.

    Computed as element-wise column arithmetic on purpose: a BLAS matmul of a tall (N, 3)
    array spins its threads and runs ~100x slower when other processes keep the cores
    busy, as they do on a robot.
    """
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    out = np.empty((points.shape[0], 3), dtype=points.dtype)
    for row in range(3):
        out[:, row] = x * M[row, 0] + y * M[row, 1] + z * M[row, 2] + M[row, 3]
    return out


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) transform to (N, 3) points; float32 input stays float32."""
    points = np.asarray(points)
    out_dtype = points.dtype if points.dtype in (np.float32, np.float64) else np.float64
    return apply_affine(points.astype(out_dtype, copy=False), T[:3].astype(out_dtype))


def validate_transform(T, field: str) -> np.ndarray:
    """Check a 4x4 rigid transform (finite, orthonormal rotation, last row 0 0 0 1).

    Raises:
        BadInputError: naming ``field`` and what is wrong.
    """
    try:
        T = np.array(T, dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError):
        raise BadInputError(field, "expected 16 numbers (a row-major 4x4 matrix)") from None
    if not np.all(np.isfinite(T)):
        raise BadInputError(field, "contains NaN or Inf")
    if not np.allclose(T[3], [0, 0, 0, 1]):
        raise BadInputError(field, f"last row must be [0, 0, 0, 1], got {T[3].tolist()}")
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=_ROTATION_TOLERANCE) or np.linalg.det(R) < 0:
        raise BadInputError(field, "the 3x3 block is not a rotation (orthonormal, det +1)")
    return T


def parse_extrinsic(spec: Mapping | Sequence[float], field: str) -> np.ndarray:
    """A (4, 4) transform from a parameter/config value.

    Accepted forms: 16 numbers (row-major 4x4), ``{"matrix": [16 numbers]}``, or
    ``{"xyz": [x, y, z], "quaternion": [x, y, z, w]}`` (also ``"rpy"`` in radians,
    applied as fixed-axis roll, pitch, yaw like tf2).
    """
    if isinstance(spec, Mapping):
        if "matrix" in spec:
            return validate_transform(spec["matrix"], f"{field}.matrix")
        if "xyz" not in spec or ("quaternion" not in spec and "rpy" not in spec):
            raise BadInputError(field, "give 'matrix' (16 numbers) or 'xyz' plus 'quaternion' or 'rpy'")
        xyz = np.asarray(spec["xyz"], dtype=np.float64)
        if xyz.shape != (3,) or not np.all(np.isfinite(xyz)):
            raise BadInputError(f"{field}.xyz", f"expected 3 finite numbers, got {spec['xyz']}")
        if "quaternion" in spec:
            return transform_from_xyz_quat(xyz, spec["quaternion"])
        return make_transform(rotation_from_rpy(*np.asarray(spec["rpy"], dtype=np.float64)), xyz)
    return validate_transform(spec, field)


def rotation_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(3, 3) rotation ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (fixed axes, radians, as tf2)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


class TransformTree:
    """Static transforms between named frames (a /tf_static tree), without ROS.

    ``add(parent, child, T_parent_child)`` records one edge; ``lookup(target, source)``
    returns ``T_target_source`` by walking both frames up to a common ancestor.
    """

    def __init__(self) -> None:
        self._parent: dict[str, tuple[str, np.ndarray]] = {}

    def add(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        self._parent[child] = (parent, np.asarray(T_parent_child, dtype=np.float64))

    @property
    def frames(self) -> set[str]:
        return set(self._parent) | {parent for parent, _ in self._parent.values()}

    def _to_root(self, frame: str) -> dict[str, np.ndarray]:
        """ancestor -> T_ancestor_frame for the frame and every ancestor."""
        chain = {frame: np.eye(4)}
        T = np.eye(4)
        while frame in self._parent:
            parent, T_parent_frame = self._parent[frame]
            T = T_parent_frame @ T
            frame = parent
            if frame in chain:
                raise BadInputError("tf", f"the transform tree has a cycle through '{frame}'")
            chain[frame] = T
        return chain

    def lookup(self, target: str, source: str) -> np.ndarray:
        """(4, 4) ``T_target_source``.

        Raises:
            BadInputError: the frames are not connected, naming the known frames.
        """
        from_target, from_source = self._to_root(target), self._to_root(source)
        common = next((frame for frame in from_source if frame in from_target), None)
        if common is None:
            raise BadInputError(
                "tf", f"no transform between '{target}' and '{source}'; known frames: {sorted(self.frames)}"
            )
        return invert_transform(from_target[common]) @ from_source[common]
