"""numpy -> ``sensor_msgs/Image`` without cv_bridge (reading: :mod:`depth_completion_ros.datasets.messages`)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from depth_completion_ros.datasets.messages import encoding_info
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.stamps import make_header


def numpy_to_image(array: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = "") -> Image:
    """Build an Image from (H, W) or (H, W, C) pixels; ``data`` is set from ``bytes``.

    Raises:
        BadInputError: unknown encoding, or an array whose dtype/channels do not match it.
    """
    dtype, channels = encoding_info(encoding)
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


