"""RADIATE stereo frames and their accumulated-LiDAR occupancy targets, for scoring stereo
occupancy on real images (``benchmarks/bench_occupancy_real.py``), and their conversion to a
bag that ``dcr eval`` scores (``dcr convert radiate``, :func:`plan_radiate`).

The loader (files, calibration, rectification, odometry, split) is
:mod:`depth_completion_ros.datasets.radiate`; this module adds what needs the pipeline's
occupancy code: the target voxelization and :class:`StereoFrame` s for the methods::

    seq = RadiateSequence(find_radiate())
    for i in seq.held_out:
        frame = stereo_frame(seq, i)                 # rectified pair + nearest sweep, base_link grid
        target = occupancy_target(seq, i)            # OccupancyGroundTruth, invalid outside the frustum
"""

from __future__ import annotations

import numpy as np

from collections.abc import Callable
from pathlib import Path

from depth_completion_ros.datasets.bag_writer import BagWriter, ConversionPlan, Reading, lidar_cloud, occupancy_cloud
from depth_completion_ros.datasets.radiate import (
    BASE_FRAME,
    LEFT_FRAME,
    LIDAR_FRAME,
    RIGHT_FRAME,
    T_BASE_VELODYNE,
    ZED_GRID,
    RadiateSequence,
    read_lidar_csv,
)
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import compose
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN, OccupancyGroundTruth, VoxelGrid
from depth_completion_ros.pipeline.occupancy import insert_points
from depth_completion_ros.pipeline.occupancy_methods import StereoFrame

TARGET_LABEL = 1  # class-less occupied voxel (scored for completion only; SemanticKITTI counting)


def stereo_frame(seq: RadiateSequence, index: int, grid: VoxelGrid = ZED_GRID) -> StereoFrame:
    """Pair ``index`` rectified, with its nearest sweep deskewed to the camera stamp as
    ``lidar_points`` (and its origin) in ``grid``'s frame (base_link at that stamp)."""
    left, right = seq.rectified_images(index)
    points, origin = seq.sweep_in_grid(seq.pairs[index].sweep, index)
    rect = seq.rectification
    return StereoFrame(left, right, rect.left, rect.right, seq.T_base_left, lidar_points=points, lidar_origin=origin)


def occupancy_target(seq: RadiateSequence, index: int, grid: VoxelGrid = ZED_GRID,
                     frustum: np.ndarray | None = None) -> OccupancyGroundTruth:
    """Accumulated-LiDAR occupancy of pair ``index`` on ``grid`` (base_link at its stamp).

    Every sweep of :meth:`RadiateSequence.window`, deskewed to the stamp, is inserted with
    free space (:func:`~depth_completion_ros.pipeline.occupancy.insert_points`).

    Args:
        frustum: the grid's camera-frustum mask (default: :meth:`RadiateSequence.frustum`).

    Returns:
        labels :data:`TARGET_LABEL` where a point of any sweep falls, 0 elsewhere; ``invalid``
        where no sweep's ray reached the voxel or its centre lies outside the camera frustum
        (not scored, as SemanticKITTI's invalid voxels).
    """
    occupied = np.zeros(grid.shape, bool)
    observed = np.zeros(grid.shape, bool)
    for k in seq.window(index):
        points, origin = seq.sweep_in_grid(k, index)
        state = insert_points(grid.geometry(), points, origin).state
        occupied |= state == OCCUPIED
        observed |= state != UNKNOWN
    if frustum is None:
        frustum = seq.frustum(grid)
    labels = np.where(occupied, np.uint16(TARGET_LABEL), np.uint16(0))
    return OccupancyGroundTruth(grid.geometry(), labels, ~(observed & frustum))


LEFT_NAMESPACE, RIGHT_NAMESPACE = "/camera/left", "/camera/right"
LIDAR_TOPIC, OCCUPANCY_TOPIC, TF_TOPIC = "/lidar/points", "/occupancy/ground_truth", "/tf"
ODOM_FRAME = "odom"
SPLITS = ("all", "held-out", "trainable")
_IMAGE, _INFO, _CLOUD = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/PointCloud2"


def plan_radiate(folder: str | Path, calibration: str | Path | None = None, split: str = "all",
                 max_frames: int | None = None, grid: VoxelGrid = ZED_GRID) -> ConversionPlan:
    """The conversion of a RADIATE sequence into the topics ``dcr eval`` reads.

    ==================================  ==========================  ====================================
    topic                               type                        content
    ==================================  ==========================  ====================================
    /camera/left/image_rect             sensor_msgs/Image rgb8      rectified ZED left, at its stamp
    /camera/left/camera_info            sensor_msgs/CameraInfo      its rectified model (R = I, P = P1)
    /camera/right/image_rect, .../camera_info                       the same for the right (P2[0, 3] = -f B)
    /lidar/points                       sensor_msgs/PointCloud2     each stamped sweep as recorded (velodyne
                                                                    frame, not deskewed): x y z intensity ring
    /occupancy/ground_truth             sensor_msgs/PointCloud2     the target of each pair at its stamp, in
                                                                    base_link, observed free voxels listed too
                                                                    (``occupancy_cloud(free=True)``), so
                                                                    voxels outside the frustum are not scored
    /tf_static                          tf2_msgs/TFMessage          base_link -> velodyne, zed_*_optical_frame
    /tf                                 tf2_msgs/TFMessage          odom -> base_link (LiDAR odometry) at
                                                                    each sweep
    ==================================  ==========================  ====================================

    Args:
        folder: the sequence folder; ``calibration``: its ``default-calib.yaml`` (default: found).
        split: ``all`` pairs, the ``held-out`` ones or the ``trainable`` ones.
        max_frames: only the first N pairs of the split; the sweeps are those their targets use.
        grid: the target's grid (default :data:`ZED_GRID`); ``dcr eval`` may score on any grid
            that contains it (voxels the cloud does not list are not scored).
    """
    if split not in SPLITS:
        raise BadInputError("split", f"must be one of {SPLITS}, got '{split}'")
    seq = RadiateSequence(folder, calibration)
    pairs = {"all": [p.index for p in seq.pairs], "held-out": seq.held_out, "trainable": seq.trainable}[split]
    pairs = pairs[:max_frames] if max_frames is not None else pairs
    if not pairs:
        raise BadInputError("split", f"'{split}' holds no stereo pair of {seq.folder}")
    sweeps = sorted({k for i in pairs for k in seq.window(i)} | {seq.pairs[i].sweep for i in pairs})
    rect = seq.rectification
    frustum = seq.frustum(grid)
    plan = ConversionPlan(
        topics={f"{LEFT_NAMESPACE}/image_rect": _IMAGE, f"{LEFT_NAMESPACE}/camera_info": _INFO,
                f"{RIGHT_NAMESPACE}/image_rect": _IMAGE, f"{RIGHT_NAMESPACE}/camera_info": _INFO,
                LIDAR_TOPIC: _CLOUD, OCCUPANCY_TOPIC: _CLOUD, TF_TOPIC: "tf2_msgs/msg/TFMessage"},
        static=[(T_BASE_VELODYNE, BASE_FRAME, LIDAR_FRAME), (seq.T_base_left, BASE_FRAME, LEFT_FRAME),
                (seq.T_base_right, BASE_FRAME, RIGHT_FRAME)])

    def pair_writer(index: int) -> Callable[[BagWriter, int], None]:
        def write(writer: BagWriter, stamp_ns: int) -> None:
            f = writer.factory
            for namespace, image, model, frame in zip((LEFT_NAMESPACE, RIGHT_NAMESPACE), seq.rectified_images(index),
                                                      (rect.left, rect.right), (LEFT_FRAME, RIGHT_FRAME)):
                writer.write(f"{namespace}/image_rect", f.image(image, "rgb8", stamp_ns, frame), stamp_ns)
                writer.write(f"{namespace}/camera_info", f.camera_info(model, stamp_ns, frame), stamp_ns)
            truth = occupancy_target(seq, index, grid, frustum)
            writer.write(OCCUPANCY_TOPIC, f.pointcloud(occupancy_cloud(truth, free=True), stamp_ns, BASE_FRAME),
                         stamp_ns)
        return write

    def sweep_writer(k: int) -> Callable[[BagWriter, int], None]:
        def write(writer: BagWriter, stamp_ns: int) -> None:
            f = writer.factory
            points = read_lidar_csv(seq.sweeps[k].path)
            T_odom_base = compose(seq.trajectory.at(stamp_ns), np.linalg.inv(T_BASE_VELODYNE))
            T_odom_base = compose(T_BASE_VELODYNE, T_odom_base)  # odom: base_link axes at the first sweep
            writer.write(TF_TOPIC, f.tf([(T_odom_base, ODOM_FRAME, BASE_FRAME)], stamp_ns), stamp_ns)
            writer.write(LIDAR_TOPIC, f.pointcloud(lidar_cloud(points, points[:, 4]), stamp_ns, LIDAR_FRAME),
                         stamp_ns)
        return write

    plan.readings.extend(Reading(seq.pairs[i].stamp_ns, str(seq.pairs[i].left_path), pair_writer(i)) for i in pairs)
    plan.readings.extend(Reading(seq.sweeps[k].stamp_ns, str(seq.sweeps[k].path), sweep_writer(k)) for k in sweeps)
    return plan
