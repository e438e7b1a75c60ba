"""A :class:`CameraModel` -> ``sensor_msgs/CameraInfo`` (reading: :mod:`depth_completion_ros.datasets.messages`)."""

from __future__ import annotations

from sensor_msgs.msg import CameraInfo
from sensor_msgs.msg import RegionOfInterest as RoiMsg

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.ros.stamps import make_header


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
