"""``sensor_msgs/Image`` <-> numpy without cv_bridge.

Reading works on any object with the Image fields (rclpy messages, rosbags messages).
"""

from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import Image

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.stamps import make_header

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


def _encoding_info(encoding: str) -> tuple[np.dtype, int]:
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
    dtype, channels = _encoding_info(msg.encoding)
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


def numpy_to_image(array: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = "") -> Image:
    """Build an Image from (H, W) or (H, W, C) pixels; ``data`` is set from ``bytes``.

    Raises:
        BadInputError: unknown encoding, or an array whose dtype/channels do not match it.
    """
    dtype, channels = _encoding_info(encoding)
    array = np.asarray(array)
    got_channels = 1 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else -1)
    if array.dtype != dtype or got_channels != channels:
        raise BadInputError(
            "Image.encoding",
            f"'{encoding}' needs {channels} channel(s) of {dtype}, got shape {array.shape} of {array.dtype}",
        )
    msg = Image(
        header=make_header(stamp_ns, frame_id),
        height=array.shape[0],
        width=array.shape[1],
        encoding=encoding,
        is_bigendian=False,
        step=array.shape[1] * channels * dtype.itemsize,
    )
    msg.data = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")).tobytes()
    return msg


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


def depth_to_image(depth: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = "") -> Image:
    """A REP 118 depth Image from (H, W) float32 metres (0 = invalid).

    ``32FC1``: metres, invalid = NaN; ``16UC1``: millimetres, invalid = 0 (depths beyond
    65.535 m saturate).
    """
    if encoding == "16UC1":
        return numpy_to_image(np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16), encoding, stamp_ns, frame_id)
    if encoding == "32FC1":
        return numpy_to_image(np.where(depth > 0, depth, np.float32(np.nan)).astype(np.float32), encoding, stamp_ns,
                              frame_id)
    raise BadInputError("encoding", f"depth must be 32FC1 or 16UC1, got '{encoding}'")


def image_to_depth(msg) -> np.ndarray:
    """(H, W) float32 metres from a ``32FC1`` (m) or ``16UC1`` (mm) depth Image;
    0, NaN and Inf become 0 (no measurement)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise BadInputError("Image.encoding", f"a depth image must be 32FC1 or 16UC1, got '{msg.encoding}'")
    pixels = image_to_numpy(msg)
    depth = pixels.astype(np.float32) / np.float32(1000.0) if msg.encoding == "16UC1" else pixels
    return np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0)).astype(np.float32)
