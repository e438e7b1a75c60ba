"""numpy structured arrays -> ``sensor_msgs/PointCloud2`` without sensor_msgs_py (reading:
:mod:`depth_completion_ros.datasets.messages`)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from depth_completion_ros.datasets.messages import POINTFIELD_DTYPES, XYZ
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.stamps import make_header

_DATATYPE_OF = {dtype: datatype for datatype, dtype in POINTFIELD_DTYPES.items()}


def array_to_pointcloud2(points: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PointCloud2:
    """Build a PointCloud2 from a structured array: (N,) unorganized or (H, W) organized.

    Every field of ``points`` becomes a PointField (sub-arrays become ``count``);
    ``data`` is set from ``bytes``.
    """
    if points.dtype.names is None:
        raise BadInputError("points", "expected a structured array with named fields (x, y, z, ...)")
    organized = points.ndim == 2
    height, width = points.shape if organized else (1, points.shape[0])
    is_bigendian = False
    fields = []
    for name in points.dtype.names:
        field_dtype, offset = points.dtype.fields[name][:2]
        base, shape = (field_dtype.subdtype if field_dtype.subdtype else (field_dtype, ()))
        if base.newbyteorder("=") not in _DATATYPE_OF:
            raise BadInputError(f"points['{name}']", f"dtype {base} has no PointField datatype")
        is_bigendian = is_bigendian or base.byteorder == ">"
        count = int(np.prod(shape)) if shape else 1
        fields.append(PointField(name=name, offset=offset, datatype=_DATATYPE_OF[base.newbyteorder("=")], count=count))
    has_xyz = all(n in points.dtype.names for n in XYZ)
    dense = bool(has_xyz and all(np.isfinite(points[n]).all() for n in XYZ))
    msg = PointCloud2(
        header=make_header(stamp_ns, frame_id),
        height=height,
        width=width,
        fields=fields,
        is_bigendian=is_bigendian,
        point_step=points.dtype.itemsize,
        row_step=points.dtype.itemsize * width,
        is_dense=dense,
    )
    msg.data = np.ascontiguousarray(points).tobytes()
    return msg


def xyz_to_pointcloud2(
    xyz: np.ndarray,
    stamp_ns: int = 0,
    frame_id: str = "",
    intensity: np.ndarray | None = None,
    rgb: np.ndarray | None = None,
    label: np.ndarray | None = None,
) -> PointCloud2:
    """Build an unorganized cloud from (N, 3) points plus optional per-point fields.

    Args:
        xyz: (N, 3) metres.
        intensity: (N,) float32 field ``intensity``.
        rgb: (N, 3) uint8 colours, packed PCL-style into a FLOAT32 ``rgb`` field
            (bytes 0x00RRGGBB, as RViz and Foxglove read it).
        label: (N,) uint32 field ``label`` (class id).
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise BadInputError("xyz", f"expected (N, 3) points, got shape {xyz.shape}")
    spec = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if intensity is not None:
        spec.append(("intensity", "<f4"))
    if rgb is not None:
        spec.append(("rgb", "<f4"))
    if label is not None:
        spec.append(("label", "<u4"))
    points = np.empty(xyz.shape[0], dtype=spec)
    points["x"], points["y"], points["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    if intensity is not None:
        points["intensity"] = intensity
    if rgb is not None:
        rgb = np.asarray(rgb, dtype=np.uint32)
        packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        points["rgb"] = packed.astype("<u4").view("<f4")
    if label is not None:
        points["label"] = label
    return array_to_pointcloud2(points, stamp_ns, frame_id)


