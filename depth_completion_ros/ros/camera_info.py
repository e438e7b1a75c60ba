"""``sensor_msgs/CameraInfo`` <-> :class:`CameraModel`.

Reading works on any object with the CameraInfo fields (rclpy or rosbags messages).
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo
from sensor_msgs.msg import RegionOfInterest as RoiMsg

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel, RegionOfInterest
from depth_completion_ros.ros.stamps import make_header

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


def model_to_camera_info(camera: CameraModel, stamp_ns: int = 0, frame_id: str = "") -> CameraInfo:
    """A CameraInfo holding exactly the model's calibration, binning and ROI."""
    roi = camera.roi
    return CameraInfo(
        header=make_header(stamp_ns, frame_id),
        width=camera.width,
        height=camera.height,
        distortion_model=camera.distortion_model,
        d=camera.D.tolist(),
        k=camera.K.ravel().tolist(),
        r=camera.R.ravel().tolist(),
        p=camera.P.ravel().tolist(),
        binning_x=camera.binning_x,
        binning_y=camera.binning_y,
        roi=RoiMsg(
            x_offset=roi.x_offset, y_offset=roi.y_offset, height=roi.height, width=roi.width, do_rectify=roi.do_rectify
        ),
    )
