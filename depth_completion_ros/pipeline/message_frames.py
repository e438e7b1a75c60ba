"""Messages of one synchronized set -> the arrays of a :class:`DepthFrame`.

One conversion for every consumer: the depth-completion node, ``dcr eval`` (offline on
bag messages, which are rosbags objects with the same fields) and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from depth_completion_ros.datasets.messages import (
    camera_info_to_model,
    image_to_rgb,
    pointcloud2_to_array,
    pointcloud2_to_xyz,
    select_fields,
)
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.depth_frame import DepthFrame

# (sensor name, camera frame id, sensor frame id) -> T_camera_sensor (4, 4)
ExtrinsicsLookup = Callable[[str, str, str], np.ndarray]
DEFAULT_RADAR_FIELDS = ("x", "y", "z", "rcs", "vx", "vy")


@dataclass(frozen=True)
class ConvertedFrame:
    """A frame plus what the conversion had to drop (for diagnostics).

    Attributes:
        nonfinite_points: LiDAR points with NaN/Inf coordinates that were removed.
        radar_error: why the radar cloud was left out, or None.
    """

    frame: DepthFrame
    nonfinite_points: int = 0
    radar_error: BadInputError | None = None


def finite_lidar_points(lidar) -> tuple[np.ndarray, int]:
    """(N, 3) float32 finite x, y, z of a LiDAR PointCloud2 (metres, its own frame), and
    how many NaN/Inf points were dropped.

    Raises:
        BadInputError: a bad cloud (fields, buffer).
    """
    points = pointcloud2_to_xyz(lidar, skip_nonfinite=False)
    finite = np.all(np.isfinite(points), axis=1)
    nonfinite = int(points.shape[0] - np.count_nonzero(finite))
    return (points[finite] if nonfinite else points), nonfinite


def depth_frame_from_messages(
    image,
    camera_info,
    lidar,
    extrinsics: ExtrinsicsLookup,
    radar=None,
    rectified: bool = True,
    radar_fields: Sequence[str] = DEFAULT_RADAR_FIELDS,
) -> ConvertedFrame:
    """Convert Image + CameraInfo + LiDAR (+ radar) PointCloud2 messages.

    ``lidar`` None (a rig without LiDAR) gives a frame without LiDAR points, which the
    pipeline completes from the image (and radar). NaN/Inf LiDAR points are dropped and
    counted; a bad radar cloud is left out and reported (radar is optional); everything
    else that is wrong raises.

    Raises:
        BadInputError: bad image encoding or size, bad CameraInfo, bad LiDAR cloud, or
            missing extrinsics.
    """
    camera = camera_info_to_model(camera_info, rectified=rectified)
    rgb = image_to_rgb(image)
    camera_frame = image.header.frame_id
    points, T_camera_lidar, nonfinite = None, None, 0
    if lidar is not None:
        points, nonfinite = finite_lidar_points(lidar)
        T_camera_lidar = extrinsics("lidar", camera_frame, lidar.header.frame_id)
    if radar is None:
        return ConvertedFrame(DepthFrame(rgb, camera, points, T_camera_lidar), nonfinite)
    try:
        radar_points = select_fields(pointcloud2_to_array(radar, skip_nonfinite=True), radar_fields)
        T_camera_radar = extrinsics("radar", camera_frame, radar.header.frame_id)
    except BadInputError as error:
        return ConvertedFrame(DepthFrame(rgb, camera, points, T_camera_lidar), nonfinite, error)
    return ConvertedFrame(DepthFrame(rgb, camera, points, T_camera_lidar, radar_points, T_camera_radar), nonfinite)
