"""``sensor_msgs`` Image, PointCloud2 and CameraInfo -> numpy and :class:`CameraModel`, without ROS.

The readers work on any object with the message's fields: rclpy messages in the nodes,
rosbags messages in offline evaluation (which therefore needs no ROS package). Clouds are
read by field name into a structured dtype built from the ``PointField`` list, so any layout
works (padding, ``point_step``/``row_step``, organized clouds, big-endian data), with no
per-point Python loop. The writers (numpy -> rclpy messages) are in ``ros/``.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib import recfunctions

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel, RegionOfInterest

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "32FC1": (np.dtype(np.float32), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono8": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "8UC3": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
}


def encoding_info(encoding: str) -> tuple[np.dtype, int]:
    """(numpy dtype, channels) of an Image encoding; BadInputError for one not supported."""
    if encoding not in ENCODINGS:
        raise BadInputError("Image.encoding", f"unsupported encoding '{encoding}'; supported: {', '.join(ENCODINGS)}")
    return ENCODINGS[encoding]


def image_to_numpy(msg) -> np.ndarray:
    """View an Image's pixels as an array, without copying when the layout allows.

    Honours ``step`` (row padding) and ``is_bigendian`` (big-endian data is byte-swapped
    into a native copy).

    Returns:
        (H, W) for 1-channel encodings, (H, W, C) otherwise, with the encoding's dtype.

    Raises:
        BadInputError: unknown encoding, or a ``step``/buffer length that disagrees with
            ``width``, ``height`` and the encoding.
    """
    dtype, channels = encoding_info(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise BadInputError("Image.step", f"{step} B is less than width x pixel size = {row_bytes} B ({msg.encoding})")
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    if buffer.size != step * height:
        raise BadInputError(
            "Image.data", f"holds {buffer.size} B but height x step = {height} x {step} = {height * step} B"
        )
    if msg.is_bigendian and dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">")
    rows = buffer.reshape(height, step)[:, :row_bytes]
    pixels = rows.view(dtype).reshape((height, width, channels) if channels > 1 else (height, width))
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    return pixels


_TO_RGB = {"rgb8": None, "bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
           "mono8": cv2.COLOR_GRAY2RGB, "8UC3": None}


def image_to_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of a colour or mono8 Image (a view for ``rgb8``).

    Raises:
        BadInputError: an encoding that is not a colour/mono8 image (e.g. a depth image).
    """
    if msg.encoding not in _TO_RGB:
        raise BadInputError(
            "Image.encoding", f"'{msg.encoding}' is not a colour image; expected one of {', '.join(_TO_RGB)}"
        )
    pixels = image_to_numpy(msg)
    conversion = _TO_RGB[msg.encoding]
    return pixels if conversion is None else cv2.cvtColor(pixels, conversion)


DEPTH_ENCODINGS = ("32FC1", "16UC1")


def image_to_depth(msg) -> np.ndarray:
    """(H, W) float32 metres from a ``32FC1`` (m) or ``16UC1`` (mm) depth Image;
    0, NaN and Inf become 0 (no measurement)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise BadInputError("Image.encoding", f"a depth image must be 32FC1 or 16UC1, got '{msg.encoding}'")
    pixels = image_to_numpy(msg)
    depth = pixels.astype(np.float32) / np.float32(1000.0) if msg.encoding == "16UC1" else pixels
    return np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0)).astype(np.float32)


# sensor_msgs/PointField datatypes
POINTFIELD_INT8, POINTFIELD_UINT8, POINTFIELD_INT16, POINTFIELD_UINT16 = 1, 2, 3, 4
POINTFIELD_INT32, POINTFIELD_UINT32, POINTFIELD_FLOAT32, POINTFIELD_FLOAT64 = 5, 6, 7, 8
POINTFIELD_DTYPES: dict[int, np.dtype] = {
    POINTFIELD_INT8: np.dtype(np.int8),
    POINTFIELD_UINT8: np.dtype(np.uint8),
    POINTFIELD_INT16: np.dtype(np.int16),
    POINTFIELD_UINT16: np.dtype(np.uint16),
    POINTFIELD_INT32: np.dtype(np.int32),
    POINTFIELD_UINT32: np.dtype(np.uint32),
    POINTFIELD_FLOAT32: np.dtype(np.float32),
    POINTFIELD_FLOAT64: np.dtype(np.float64),
}
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


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 colours from a PCL-style packed FLOAT32 (or UINT32) ``rgb`` field."""
    bits = np.asarray(packed).astype("<f4").view("<u4")
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1).astype(np.uint8)


# CameraModel attribute -> CameraInfo field, so errors name the message field.
_FIELD_NAMES = {"K": "k", "D": "d", "R": "r", "P": "p", "distortion_model": "distortion_model"}


def _matrix(msg, name: str):
    """A CameraInfo array field: ROS 2 spells them d, k, r, p; ROS 1 (bags) D, K, R, P."""
    value = getattr(msg, name, None)
    return np.asarray(getattr(msg, name.upper()) if value is None else value, dtype=np.float64)


def camera_info_to_model(msg, rectified: bool = True) -> CameraModel:
    """The camera described by a CameraInfo (ROS 2, or ROS 1 from a bag).

    Args:
        rectified: whether the images that go with it are rectified (``image_rect``:
            project with R and P) or raw (``image_raw``: project with K and D).

    Raises:
        BadInputError: naming the CameraInfo field (all-zero K, NaN/Inf, bad D, ...).
    """
    roi = msg.roi
    try:
        return CameraModel(
            width=int(msg.width),
            height=int(msg.height),
            K=_matrix(msg, "k"),
            D=_matrix(msg, "d"),
            distortion_model=msg.distortion_model,
            R=_matrix(msg, "r"),
            P=_matrix(msg, "p"),
            binning_x=int(msg.binning_x),
            binning_y=int(msg.binning_y),
            roi=RegionOfInterest(
                int(roi.x_offset), int(roi.y_offset), int(roi.height), int(roi.width), bool(roi.do_rectify)
            ),
            rectified=rectified,
        )
    except BadInputError as error:
        attribute = error.field.removeprefix("CameraModel.")
        raise BadInputError(f"CameraInfo.{_FIELD_NAMES.get(attribute, attribute)}", error.problem) from None
