"""One nuScenes scene -> a ROS 2 MCAP bag (``dcr convert nuscenes ROOT --scene NAME``).

Input (the nuScenes release layout): ``ROOT/v1.0-*/{scene, sample, sample_data,
calibrated_sensor, ego_pose, sensor}.json``, and the files that ``sample_data.filename``
names under ``ROOT/samples/`` (key frames) and ``ROOT/sweeps/`` (the rest): camera JPEGs
(already undistorted), LIDAR_TOP ``.pcd.bin`` (float32 x, y, z, intensity, ring) and
radar ``.pcd`` (v0.7 binary, :mod:`~depth_completion_ros.datasets.pcd`). Every
sample_data of the scene's samples is converted (``keyframes_only``: only the key frames),
stamped with its ``timestamp`` (microseconds -> ns).

Topics (CH is the channel, e.g. CAM_FRONT, LIDAR_TOP, RADAR_FRONT):

=======================  ==========================  ==========================================
topic                    type                        content
=======================  ==========================  ==========================================
/CH/image_rect           sensor_msgs/Image rgb8      camera CH
/CH/camera_info          sensor_msgs/CameraInfo      its ``camera_intrinsic`` (R = I, no D)
/LIDAR_TOP               sensor_msgs/PointCloud2     x, y, z, intensity float32, ring uint16
/RADAR_*                 sensor_msgs/PointCloud2     every PCD field as stored (x, y, z,
                                                     dyn_prop, id, rcs, vx, vy, vx_comp, ...),
                                                     all points, unfiltered
/tf_static               tf2_msgs/TFMessage          ``base_link`` -> each sensor (calibrated_sensor)
/tf                      tf2_msgs/TFMessage          ``map`` -> ``base_link`` (ego_pose of each reading)
=======================  ==========================  ==========================================

Frames: ``base_link`` is nuScenes' ego frame; a sensor's frame is its channel in lower
case (``lidar_top``, ``radar_front``), a camera's ``cam_front_optical_frame`` (nuScenes
camera frames are already optical: x right, y down, z forward). The LiDAR's nuScenes
ring ids (0 = lowest beam) are kept as they are. ``/tf_static`` alone does not compensate
the ego motion between a sweep's stamp and a camera's (tens of ms: ~0.3 m at 10 m/s);
the nuScenes devkit does that with the ego poses, which ``/tf`` carries.

The JSON tables are read whole (as the nuScenes devkit does); the sensor files are read
one at a time while writing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.bag_writer import BagWriter, ConversionPlan, Reading, lidar_cloud
from depth_completion_ros.datasets.kitti_to_bag import CLOUD_TYPE, IMAGE_TYPE, INFO_TYPE, read_image
from depth_completion_ros.datasets.nuscenes_protocol import read_lidar_top
from depth_completion_ros.datasets.pcd import read_pcd
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.files import is_lfs_pointer, unreadable_reason
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import transform_from_xyz_quat

TABLES = ("scene", "sample", "sample_data", "calibrated_sensor", "ego_pose", "sensor")
BASE_FRAME, MAP_FRAME = "base_link", "map"
TF_TYPE = "tf2_msgs/msg/TFMessage"


def find_table_folder(root: Path, version: str | None) -> Path:
    """``ROOT/VERSION``, or the only ``ROOT/v1.0-*`` folder when no version is given."""
    if version is not None:
        folder = root / version
        if not folder.is_dir():
            raise BadInputError(str(folder), "not found; --version names a table folder in ROOT, e.g. v1.0-mini")
        return folder
    folders = sorted(p for p in root.glob("v1.0-*") if p.is_dir())
    if len(folders) != 1:
        found = ", ".join(p.name for p in folders) or "none"
        raise BadInputError(str(root), f"needs exactly one v1.0-* table folder (found: {found}); pass --version")
    return folders[0]


def load_table(folder: Path, name: str) -> list[dict]:
    path = folder / f"{name}.json"
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInputError(str(path), "not found; the nuScenes metadata folder holds every table (v1.0-*.tgz)") from None
    except (OSError, ValueError) as error:
        reason = unreadable_reason(path, "a JSON table")
        raise BadInputError(str(path), reason if is_lfs_pointer(path) else f"{reason} ({error})") from None
    if not isinstance(table, list):
        raise BadInputError(str(path), "is not a JSON list of records")
    return table


def pose_transform(record: dict, source: str) -> np.ndarray:
    """(4, 4) transform of a calibrated_sensor / ego_pose record (``rotation`` is w, x, y, z)."""
    try:
        w, x, y, z = record["rotation"]
        return transform_from_xyz_quat(record["translation"], [x, y, z, w])
    except (KeyError, ValueError, TypeError) as error:
        raise BadInputError(source, f"record {record.get('token', '?')}: bad translation/rotation ({error})") from None


def frame_id(channel: str, modality: str) -> str:
    return f"{channel.lower()}_optical_frame" if modality == "camera" else channel.lower()


def _writer(path: Path, channel: str, modality: str, record: dict, T_map_base: np.ndarray,
            camera: CameraModel | None) -> Callable[[BagWriter, int], None]:
    frame = frame_id(channel, modality)

    def write(writer: BagWriter, stamp_ns: int) -> None:
        f = writer.factory
        writer.write("/tf", f.tf([(T_map_base, MAP_FRAME, BASE_FRAME)], stamp_ns), stamp_ns)
        if modality == "camera":
            image, encoding = read_image(path)
            if image.shape[:2] != (camera.height, camera.width):
                raise BadInputError(str(path), f"is {image.shape[1]}x{image.shape[0]}, sample_data "
                                    f"{record['token']} says {camera.width}x{camera.height}")
            writer.write(f"/{channel}/image_rect", f.image(image, encoding, stamp_ns, frame), stamp_ns)
            writer.write(f"/{channel}/camera_info", f.camera_info(camera, stamp_ns, frame), stamp_ns)
        elif modality == "lidar":
            points = read_lidar_top(path)
            writer.write(f"/{channel}", f.pointcloud(lidar_cloud(points, points[:, 4]), stamp_ns, frame), stamp_ns)
        else:
            writer.write(f"/{channel}", f.pointcloud(read_pcd(path), stamp_ns, frame), stamp_ns)
    return write


def plan_nuscenes(root: str | Path, scene_name: str, version: str | None = None,
                  keyframes_only: bool = False) -> ConversionPlan:
    """The conversion of one scene (see the module docstring).

    Raises:
        BadInputError: a missing table or sensor file, an unknown scene, or a broken record.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(str(root), "is not a folder; give the nuScenes root (holding v1.0-*/, samples/, sweeps/)")
    folder = find_table_folder(root, version)
    tables = {name: load_table(folder, name) for name in TABLES}
    scenes = [s for s in tables["scene"] if s.get("name") == scene_name]
    if not scenes:
        names = sorted(s.get("name", "?") for s in tables["scene"])
        shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        raise BadInputError(str(folder / "scene.json"), f"has no scene '{scene_name}'; it has: {shown}")
    samples = {s["token"] for s in tables["sample"] if s.get("scene_token") == scenes[0]["token"]}
    calibrated = {c["token"]: c for c in tables["calibrated_sensor"]}
    sensors = {s["token"]: s for s in tables["sensor"]}
    poses = {p["token"]: p for p in tables["ego_pose"]}
    plan = ConversionPlan(topics={"/tf": TF_TYPE}, static=[])
    static: dict[str, tuple[np.ndarray, str]] = {}  # channel -> (T_base_sensor, frame id)
    source = str(folder / "sample_data.json")
    for record in tables["sample_data"]:
        if record.get("sample_token") not in samples or (keyframes_only and not record.get("is_key_frame")):
            continue
        try:
            calibration = calibrated[record["calibrated_sensor_token"]]
            sensor = sensors[calibration["sensor_token"]]
            pose = poses[record["ego_pose_token"]]
            channel, modality = sensor["channel"], sensor["modality"]
            path, stamp_ns = root / record["filename"], int(record["timestamp"]) * 1000
        except KeyError as error:
            raise BadInputError(source, f"record {record.get('token', '?')} refers to a missing {error}") from None
        if not path.is_file():
            raise BadInputError(str(path), "not found; download that part of nuScenes, or pass --keyframes-only "
                                "when only samples/ is present")
        camera = None
        if modality == "camera":
            camera = CameraModel(width=int(record["width"]), height=int(record["height"]),
                                 K=calibration["camera_intrinsic"])
            plan.topics[f"/{channel}/image_rect"], plan.topics[f"/{channel}/camera_info"] = IMAGE_TYPE, INFO_TYPE
        elif modality in ("lidar", "radar"):
            plan.topics[f"/{channel}"] = CLOUD_TYPE
        else:
            raise BadInputError(f"{folder / 'sensor.json'}: {channel}", f"unknown modality '{modality}'")
        static.setdefault(channel, (pose_transform(calibration, str(folder / "calibrated_sensor.json")),
                                    frame_id(channel, modality)))
        T_map_base = pose_transform(pose, str(folder / "ego_pose.json"))
        plan.readings.append(Reading(stamp_ns, str(path), _writer(path, channel, modality, record, T_map_base, camera)))
    if not plan.readings:
        raise BadInputError(source, f"has no sample_data for scene '{scene_name}'")
    plan.static = [(T, BASE_FRAME, frame) for T, frame in static.values()]
    return plan
