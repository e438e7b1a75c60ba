"""KITTI raw drives and KITTI odometry sequences -> ROS 2 MCAP bags (``dcr convert``).

Inputs:

* **raw** (``dcr convert kitti-raw DRIVE``): ``DATE/DATE_drive_NNNN_sync/`` with
  ``image_00`` ... ``image_03`` (``data/*.png``, ``timestamps.txt``) and
  ``velodyne_points`` (``data/*.bin``, ``timestamps.txt``); the date folder holds
  ``calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt`` and ``calib_imu_to_velo.txt``.
  Stamps are the ``timestamps.txt`` times (read as UTC). ``oxts/`` is not used: the
  transforms are the static calibration only.
* **odometry** (``dcr convert kitti-odometry SEQUENCE``): ``sequences/NN/`` with
  ``image_0`` ... ``image_3`` (``*.png``), ``velodyne/*.bin``, ``calib.txt`` (P0-P3, Tr)
  and ``times.txt`` (seconds from the start; stamps are :data:`ODOMETRY_EPOCH_NS` plus
  them). With SemanticKITTI's ``voxels/NNNNNN.label`` + ``.invalid`` (every 5th frame)
  the occupancy ground truth is added; ``voxels/*.bin`` (the single-scan input) is not.

Topics (the camera folders present are converted; cameras 2/3 share the simulator's names):

==================================  ==========================  ======================================
topic                               type                        content
==================================  ==========================  ======================================
/tf_static                          tf2_msgs/TFMessage          once, latched (see Frames)
/camera/gray/left/image_rect        sensor_msgs/Image mono8     camera 0; with ``camera_info``
/camera/gray/right/image_rect       sensor_msgs/Image mono8     camera 1; with ``camera_info``
/camera/left/image_rect             sensor_msgs/Image rgb8      camera 2; with ``camera_info``
/camera/right/image_rect            sensor_msgs/Image rgb8      camera 3; with ``camera_info``
/lidar/points                       sensor_msgs/PointCloud2     x, y, z, intensity float32, ring uint16
/occupancy/ground_truth             sensor_msgs/PointCloud2     odometry + SemanticKITTI only
==================================  ==========================  ======================================

Each CameraInfo carries the image's stamp. ``ring`` is the laser's ring index from the
scan order (:func:`~depth_completion_ros.datasets.kitti_protocol.ring_ids`, 0 = top),
so ``dcr eval --holdout-every K`` can hold rings out. The occupancy cloud has the
simulator's layout (:func:`~depth_completion_ros.datasets.bag_writer.occupancy_cloud`):
surface voxel centres of the SemanticKITTI grid in the ``velodyne`` frame, raw label ids.

Frames: each camera is published in its own rectified optical frame
(``camera_left_optical_frame`` etc.; :func:`~depth_completion_ros.geometry.kitti_calib.camera_in_own_frame`),
with ``R = I`` and ``P = [K | 0]``; a right camera has ``P[0, 3] = -fx B`` (the CameraInfo
stereo convention: its P takes points of its pair's left camera). ``/tf_static`` holds
``velodyne -> camera_*`` and, for raw drives, ``base_link -> velodyne`` with ``base_link``
at the OXTS IMU (``calib_imu_to_velo.txt``), as kitti2bag does.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.datasets.bag_writer import (
    BagWriter,
    ConversionPlan,
    Reading,
    lidar_cloud,
    occupancy_cloud,
)
from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.datasets.kitti_protocol import check_rings_descend, ring_ids
from depth_completion_ros.datasets.semantic_kitti import read_bits, read_labels
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.files import unreadable_reason
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.kitti_calib import (
    KittiCalibration,
    camera_in_own_frame,
    load_odometry_calib,
    load_raw_calib,
    read_calib_file,
)
from depth_completion_ros.geometry.transforms import invert_transform, make_transform, validate_transform
from depth_completion_ros.geometry.voxels import OccupancyGroundTruth, VoxelGrid

ODOMETRY_EPOCH_NS = 1_700_000_000 * 10**9  # odometry times start at 0 s; ROS reads stamp 0 as "unset"
BASE_FRAME = "base_link"
LIDAR_FRAME = "velodyne"
LIDAR_TOPIC = "/lidar/points"
OCCUPANCY_TOPIC = "/occupancy/ground_truth"
IMAGE_TYPE, INFO_TYPE, CLOUD_TYPE = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/PointCloud2"


@dataclass(frozen=True)
class KittiCamera:
    """How camera ``index`` is published: topic namespace, frame, stereo pair's left camera."""

    index: int
    namespace: str
    frame_id: str
    stereo_left: int | None


KITTI_CAMERAS = {
    0: KittiCamera(0, "/camera/gray/left", "camera_gray_left_optical_frame", None),
    1: KittiCamera(1, "/camera/gray/right", "camera_gray_right_optical_frame", 0),
    2: KittiCamera(2, "/camera/left", "camera_left_optical_frame", None),
    3: KittiCamera(3, "/camera/right", "camera_right_optical_frame", 2),
}


def parse_raw_timestamps(path: Path) -> np.ndarray:
    """(N,) int64 ns since the epoch from a raw ``timestamps.txt`` (``2011-09-26 13:02:25.964389445``)."""
    if not path.is_file():
        raise BadInputError(str(path), "not found; every KITTI raw sensor folder has a timestamps.txt (re-extract the drive)")
    stamps = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            whole, _, fraction = line.strip().partition(".")
            seconds = calendar.timegm(datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").timetuple())
            stamps.append(seconds * 10**9 + int((fraction or "0").ljust(9, "0")[:9]))
        except ValueError:
            raise BadInputError(f"{path}:{number}", f"'{line.strip()}' is not a 'YYYY-MM-DD hh:mm:ss.fffffffff' time") from None
    return np.array(stamps, dtype=np.int64)


def parse_odometry_times(path: Path) -> np.ndarray:
    """(N,) int64 ns: :data:`ODOMETRY_EPOCH_NS` plus the seconds of an odometry ``times.txt``."""
    if not path.is_file():
        raise BadInputError(str(path), "not found; a KITTI odometry sequence folder has times.txt (data_odometry_calib.zip)")
    try:
        seconds = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError as error:
        raise BadInputError(str(path), f"expected one time in seconds per line ({error})") from None
    return ODOMETRY_EPOCH_NS + np.round(seconds * 1e9).astype(np.int64)


def _files(folder: Path, suffix: str, hint: str) -> list[Path]:
    files = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []
    if not files:
        raise BadInputError(str(folder), f"no *{suffix} files; {hint}")
    return files


def _check_counts(files: list[Path], stamps: np.ndarray, stamps_file: Path) -> None:
    if len(files) != stamps.size:
        raise BadInputError(
            str(stamps_file), f"has {stamps.size} times but {files[0].parent} has {len(files)} {files[0].suffix} "
            "files; they must match one to one (re-extract the data)")


def read_image(path: Path) -> tuple[np.ndarray, str]:
    """``(array, encoding)`` of a PNG/JPEG: (H, W) ``mono8`` or (H, W, 3) ``rgb8``."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise BadInputError(str(path), unreadable_reason(path, "an 8-bit image"))
    if image.ndim == 2:
        return image, "mono8"
    return np.ascontiguousarray(image[:, :, 2::-1]), "rgb8"


def read_kitti_scan(path: Path) -> np.ndarray:
    """(N,) LiDAR cloud of a Velodyne ``.bin`` with ring ids from its scan order.

    Raises:
        BadInputError: the file is unreadable, or its points are not in firing order.
    """
    points = read_velodyne_bin(path)
    rings = ring_ids(points)
    check_rings_descend(points, rings, str(path))
    return lidar_cloud(points, rings)


def _camera_readings(camera: KittiCamera, model: CameraModel, files: list[Path], stamps: np.ndarray) -> list[Reading]:
    image_topic, info_topic = f"{camera.namespace}/image_rect", f"{camera.namespace}/camera_info"

    def reader(path: Path) -> Callable[[BagWriter, int], None]:
        def write(writer: BagWriter, stamp_ns: int) -> None:
            image, encoding = read_image(path)
            if image.shape[:2] != (model.height, model.width):
                raise BadInputError(str(path), f"is {image.shape[1]}x{image.shape[0]}, the calibration says "
                                    f"{model.width}x{model.height}; use the drive's own calibration")
            writer.write(image_topic, writer.factory.image(image, encoding, stamp_ns, camera.frame_id), stamp_ns)
            writer.write(info_topic, writer.factory.camera_info(model, stamp_ns, camera.frame_id), stamp_ns)
        return write

    return [Reading(int(stamp), str(path), reader(path)) for path, stamp in zip(files, stamps, strict=True)]


def _lidar_readings(files: list[Path], stamps: np.ndarray) -> list[Reading]:
    def reader(path: Path) -> Callable[[BagWriter, int], None]:
        def write(writer: BagWriter, stamp_ns: int) -> None:
            cloud = read_kitti_scan(path)
            writer.write(LIDAR_TOPIC, writer.factory.pointcloud(cloud, stamp_ns, LIDAR_FRAME), stamp_ns)
        return write

    return [Reading(int(stamp), str(path), reader(path)) for path, stamp in zip(files, stamps, strict=True)]


def _add_cameras(plan: ConversionPlan, calib: KittiCalibration, folders: dict[int, tuple[list[Path], np.ndarray]]) -> None:
    """Topics, ``velodyne -> camera`` transforms and readings of the cameras in ``folders``."""
    for index, (files, stamps) in folders.items():
        camera = KITTI_CAMERAS[index]
        if index in calib.image_sizes:
            width, height = calib.image_sizes[index]
        else:  # odometry calibration does not record the size: take it from the first image
            height, width = read_image(files[0])[0].shape[:2]
        model, T_camera_velo = camera_in_own_frame(calib, index, width, height,
                                                   camera.stereo_left if camera.stereo_left in folders else None)
        plan.topics[f"{camera.namespace}/image_rect"] = IMAGE_TYPE
        plan.topics[f"{camera.namespace}/camera_info"] = INFO_TYPE
        plan.static.append((invert_transform(T_camera_velo), LIDAR_FRAME, camera.frame_id))
        plan.readings.extend(_camera_readings(camera, model, files, stamps))


def _limit(files: list[Path], stamps: np.ndarray, max_frames: int | None) -> tuple[list[Path], np.ndarray]:
    return (files, stamps) if max_frames is None else (files[:max_frames], stamps[:max_frames])


def _require_file(path: Path, hint: str) -> Path:
    if not path.is_file():
        raise BadInputError(str(path), f"not found; {hint}")
    return path


def plan_kitti_raw(drive: str | Path, max_frames: int | None = None) -> ConversionPlan:
    """The conversion of a KITTI raw drive folder (``.../2011_09_26_drive_0001_sync``).

    Args:
        max_frames: convert only the first N frames of each sensor (None = all).

    Raises:
        BadInputError: a missing folder or calibration file, or a timestamps.txt whose
            count disagrees with its data folder, naming the file and the fix.
    """
    drive = Path(drive)
    if not drive.is_dir():
        raise BadInputError(str(drive), "is not a folder; give a KITTI raw drive folder (DATE/DATE_drive_NNNN_sync)")
    hint = "KITTI raw keeps it in the date folder above the drive folder (from DATE_calib.zip)"
    calib_dir = drive.parent
    cam_to_cam = _require_file(calib_dir / "calib_cam_to_cam.txt", hint)
    velo_to_cam = _require_file(calib_dir / "calib_velo_to_cam.txt", hint)
    imu_to_velo = _require_file(calib_dir / "calib_imu_to_velo.txt", hint)
    calib = load_raw_calib(cam_to_cam, velo_to_cam)
    imu = read_calib_file(imu_to_velo)
    for key, size in (("R", 9), ("T", 3)):
        if key not in imu or imu[key].size != size:
            raise BadInputError(f"{imu_to_velo}: {key}", f"expected {size} numbers (KITTI's R and T of velo <- imu)")
    T_velo_imu = validate_transform(make_transform(imu["R"].reshape(3, 3), imu["T"]), f"{imu_to_velo}: R/T")

    plan = ConversionPlan(topics={LIDAR_TOPIC: CLOUD_TYPE}, static=[(invert_transform(T_velo_imu), BASE_FRAME, LIDAR_FRAME)])
    folders = {}
    for index in KITTI_CAMERAS:
        folder = drive / f"image_{index:02d}"
        if not folder.is_dir():
            continue
        if index not in calib.P_rect:
            raise BadInputError(f"{cam_to_cam}: P_rect_{index:02d}", f"missing, but {folder} exists")
        files = _files(folder / "data", ".png", "re-extract the drive (the _sync zip)")
        stamps = parse_raw_timestamps(folder / "timestamps.txt")
        _check_counts(files, stamps, folder / "timestamps.txt")
        folders[index] = _limit(files, stamps, max_frames)
    if not folders:
        raise BadInputError(str(drive), "has no image_00 .. image_03 folder; is it a KITTI raw *_sync drive folder?")
    _add_cameras(plan, calib, folders)
    velodyne = drive / "velodyne_points"
    scans = _files(velodyne / "data", ".bin", "the drive needs velodyne_points/data (the _sync zip)")
    stamps = parse_raw_timestamps(velodyne / "timestamps.txt")
    _check_counts(scans, stamps, velodyne / "timestamps.txt")
    plan.readings.extend(_lidar_readings(*_limit(scans, stamps, max_frames)))
    return plan


def plan_kitti_odometry(sequence: str | Path, max_frames: int | None = None) -> ConversionPlan:
    """The conversion of a KITTI odometry sequence folder (``sequences/NN``), with the
    SemanticKITTI occupancy ground truth when ``voxels/`` is present.

    Raises:
        BadInputError: as :func:`plan_kitti_raw`; also a ``.label`` without its ``.invalid``.
    """
    sequence = Path(sequence)
    if not sequence.is_dir():
        raise BadInputError(str(sequence), "is not a folder; give a KITTI odometry sequence folder (sequences/NN)")
    calib = load_odometry_calib(_require_file(sequence / "calib.txt", "it comes with data_odometry_calib.zip"))
    times_file = sequence / "times.txt"
    stamps = parse_odometry_times(times_file)
    plan = ConversionPlan(topics={LIDAR_TOPIC: CLOUD_TYPE}, static=[])
    folders = {}
    for index in KITTI_CAMERAS:
        folder = sequence / f"image_{index}"
        if folder.is_dir():
            files = _files(folder, ".png", "re-extract data_odometry_color/gray.zip")
            _check_counts(files, stamps, times_file)
            folders[index] = _limit(files, stamps, max_frames)
    if not folders:
        raise BadInputError(str(sequence), "has no image_0 .. image_3 folder; is it a KITTI odometry sequences/NN folder?")
    _add_cameras(plan, calib, folders)
    scans = _files(sequence / "velodyne", ".bin", "the sequence needs velodyne/ (data_odometry_velodyne.zip)")
    _check_counts(scans, stamps, times_file)
    scans, scan_stamps = _limit(scans, stamps, max_frames)
    plan.readings.extend(_lidar_readings(scans, scan_stamps))
    voxels = sequence / "voxels"
    if voxels.is_dir():
        plan.topics[OCCUPANCY_TOPIC] = CLOUD_TYPE
        plan.readings.extend(_occupancy_readings(voxels, scan_stamps))
    return plan


def _occupancy_readings(voxels: Path, stamps: np.ndarray) -> list[Reading]:
    """Readings of every ``voxels/NNNNNN.label`` whose frame ``NNNNNN`` is converted."""
    def reader(label: Path, invalid: Path) -> Callable[[BagWriter, int], None]:
        def write(writer: BagWriter, stamp_ns: int) -> None:
            truth = OccupancyGroundTruth(VoxelGrid(frame_id=LIDAR_FRAME), read_labels(label), read_bits(invalid))
            msg = writer.factory.pointcloud(occupancy_cloud(truth), stamp_ns, LIDAR_FRAME)
            writer.write(OCCUPANCY_TOPIC, msg, stamp_ns)
        return write

    readings = []
    for label in sorted(voxels.glob("*.label")):
        if not label.stem.isdigit():
            raise BadInputError(str(label), "SemanticKITTI voxel files are named by frame number (000000.label)")
        frame = int(label.stem)
        if frame < stamps.size:
            invalid = _require_file(label.with_suffix(".invalid"), "SemanticKITTI ships it beside every .label")
            readings.append(Reading(int(stamps[frame]), str(label), reader(label, invalid)))
    return readings
