"""``stereo_msgs/DisparityImage`` <-> numpy.

Invalid pixels follow the stereo_image_proc convention: a value below ``min_disparity``
(we write ``min_disparity - 1``).
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import RegionOfInterest as RoiMsg
from stereo_msgs.msg import DisparityImage

from depth_completion_ros.datasets.messages import image_to_numpy
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.stamps import make_header
from depth_completion_ros.stereo.disparity import Disparity

__all__ = ["Disparity", "disparity_to_msg", "msg_to_disparity"]


def disparity_to_msg(disparity: Disparity, stamp_ns: int = 0, frame_id: str = "") -> DisparityImage:
    """A DisparityImage (32FC1 image) from a :class:`Disparity`."""
    values = np.where(disparity.valid, disparity.disparity, np.float32(disparity.min_disparity - 1))
    rows, cols = np.nonzero(disparity.valid)
    window = RoiMsg()
    if rows.size:
        window = RoiMsg(
            x_offset=int(cols.min()),
            y_offset=int(rows.min()),
            width=int(cols.max() - cols.min() + 1),
            height=int(rows.max() - rows.min() + 1),
        )
    return DisparityImage(
        header=make_header(stamp_ns, frame_id),
        image=numpy_to_image(values.astype(np.float32), "32FC1", stamp_ns, frame_id),
        f=float(disparity.focal_px),
        t=float(disparity.baseline_m),
        valid_window=window,
        min_disparity=float(disparity.min_disparity),
        max_disparity=float(disparity.max_disparity),
        delta_d=float(disparity.delta_d),
    )


def msg_to_disparity(msg) -> Disparity:
    """Read a DisparityImage; pixels below ``min_disparity`` or non-finite are invalid."""
    if msg.image.encoding != "32FC1":
        raise BadInputError("DisparityImage.image.encoding", f"must be 32FC1, got '{msg.image.encoding}'")
    values = image_to_numpy(msg.image)
    valid = np.isfinite(values) & (values >= msg.min_disparity)
    return Disparity(
        disparity=values,
        valid=valid,
        focal_px=float(msg.f),
        baseline_m=float(msg.t),
        min_disparity=float(msg.min_disparity),
        max_disparity=float(msg.max_disparity),
        delta_d=float(msg.delta_d),
    )
