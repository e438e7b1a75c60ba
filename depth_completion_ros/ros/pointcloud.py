"""``sensor_msgs/PointCloud2`` <-> numpy structured arrays without sensor_msgs_py.

Fields are read by name into a structured dtype built from the message's ``PointField``
list, so any layout works (padding, ``point_step``/``row_step``, organized clouds,
big-endian data), with no per-point Python loop.
"""

from __future__ import annotations

import numpy as np
from numpy.lib import recfunctions
from sensor_msgs.msg import PointCloud2, PointField

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.stamps import make_header

POINTFIELD_DTYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8),
    PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16),
    PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32),
    PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32),
    PointField.FLOAT64: np.dtype(np.float64),
}
_DATATYPE_OF = {dtype: datatype for datatype, dtype in POINTFIELD_DTYPES.items()}
XYZ = ("x", "y", "z")


def pointcloud2_dtype(msg) -> np.dtype:
    """Structured dtype (``itemsize = point_step``) described by a cloud's fields.

    Raises:
        BadInputError: unknown datatype, duplicate names, overlapping fields, or a field
            past ``point_step``.
    """
    point_step = int(msg.point_step)
    byte_order = ">" if msg.is_bigendian else "<"
    names, formats, offsets, spans = [], [], [], []
    for f in msg.fields:
        if f.datatype not in POINTFIELD_DTYPES:
            raise BadInputError(f"PointCloud2.fields['{f.name}'].datatype", f"unknown PointField datatype {f.datatype}")
        if f.name in names:
            raise BadInputError(f"PointCloud2.fields['{f.name}']", "duplicate field name")
        base = POINTFIELD_DTYPES[f.datatype].newbyteorder(byte_order)
        count = max(int(f.count), 1)  # some drivers write count 0 for scalars
        names.append(f.name)
        formats.append(base if count == 1 else np.dtype((base, (count,))))
        offsets.append(int(f.offset))
        spans.append((int(f.offset), int(f.offset) + base.itemsize * count, f.name))
    spans.sort()
    for (start_a, end_a, name_a), (start_b, _, name_b) in zip(spans, spans[1:]):
        if start_b < end_a:
            raise BadInputError(
                f"PointCloud2.fields['{name_b}']", f"overlaps field '{name_a}' (bytes {start_a}-{end_a - 1})"
            )
    if spans and spans[-1][1] > point_step:
        raise BadInputError(
            f"PointCloud2.fields['{spans[-1][2]}']", f"ends at byte {spans[-1][1]}, past point_step {point_step}"
        )
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})


def pointcloud2_to_array(msg, skip_nonfinite: bool = False, keep_organized: bool = False) -> np.ndarray:
    """Read a cloud into a structured array (a view of ``msg.data`` where possible).

    Args:
        skip_nonfinite: drop points whose x, y or z is NaN or Inf (flattens the cloud).
        keep_organized: return (height, width) instead of (height * width,).

    Returns:
        Structured array with one field per PointField, in native byte order only if the
        message was little-endian (use :func:`pointcloud2_to_xyz` for plain floats).

    Raises:
        BadInputError: bad fields, or a buffer length that disagrees with the layout.
    """
    dtype = pointcloud2_dtype(msg)
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    if row_step < width * point_step:
        raise BadInputError(
            "PointCloud2.row_step", f"{row_step} B is less than width x point_step = {width * point_step} B"
        )
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    if buffer.size != row_step * height:
        raise BadInputError(
            "PointCloud2.data",
            f"holds {buffer.size} B but height x row_step = {height} x {row_step} = {row_step * height} B "
            "(truncated or corrupt message)",
        )
    if row_step == width * point_step:
        points = buffer.view(dtype).reshape(height, width)
    else:
        points = buffer.reshape(height, row_step)[:, : width * point_step].view(dtype)
    if skip_nonfinite:
        _check_fields(dtype, XYZ)
        finite = np.isfinite(points["x"]) & np.isfinite(points["y"]) & np.isfinite(points["z"])
        return points[finite]
    return points if keep_organized else points.reshape(-1)


def _check_fields(dtype: np.dtype, names) -> None:
    available = list(dtype.names or [])
    for name in names:
        if name not in available:
            raise BadInputError("PointCloud2.fields", f"no '{name}' field; the cloud has {available}")
        if dtype.fields[name][0].shape:
            raise BadInputError(f"PointCloud2.fields['{name}']", "must have count 1")


def select_fields(points: np.ndarray, names) -> np.ndarray:
    """(N, len(names)) float32 copy of the named scalar fields, e.g. a driver's radar fields.

    Raises:
        BadInputError: a named field is missing or not a scalar, listing what the cloud has.
    """
    _check_fields(points.dtype, names)
    return recfunctions.structured_to_unstructured(points[list(names)], dtype=np.float32)


def pointcloud2_to_xyz(msg, skip_nonfinite: bool = True) -> np.ndarray:
    """(N, 3) float32 x, y, z of a cloud (metres, in ``msg.header.frame_id``)."""
    return select_fields(pointcloud2_to_array(msg, skip_nonfinite=skip_nonfinite), XYZ)


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


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 colours from a PCL-style packed FLOAT32 (or UINT32) ``rgb`` field."""
    bits = np.asarray(packed).astype("<f4").view("<u4")
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1).astype(np.uint8)
