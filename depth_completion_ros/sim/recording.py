"""Write simulator sequences: a ROS 2 MCAP bag (through ``rosbags``) or a KITTI layout.

Messages are built with the ``rosbags`` typestore (ROS 2 Jazzy definitions), so this
module imports no ROS package. Bag topics (``BAG_TOPICS``), all stamped with the sensor
time plus :data:`BAG_START_NS`:

====================================  ===========================  =========================
topic                                 type                         rate
====================================  ===========================  =========================
/tf_static                            tf2_msgs/TFMessage           once: base -> every sensor
/tf                                   tf2_msgs/TFMessage           camera rate: odom -> base
/camera/left/image_rect               sensor_msgs/Image rgb8       camera rate
/camera/left/camera_info              sensor_msgs/CameraInfo       camera rate
/camera/right/image_rect              sensor_msgs/Image rgb8       camera rate
/camera/right/camera_info             sensor_msgs/CameraInfo       camera rate (P[0,3] = -fx B)
/camera/left/depth/ground_truth       sensor_msgs/Image 32FC1      camera rate, metres, NaN = none
/camera/left/semantic/ground_truth    sensor_msgs/Image mono16     camera rate, class ids
/lidar/points                         sensor_msgs/PointCloud2      LiDAR rate
/radar/points                         sensor_msgs/PointCloud2      radar rate
/occupancy/ground_truth               sensor_msgs/PointCloud2      LiDAR rate
====================================  ===========================  =========================

Point cloud layouts (little-endian, unpadded; read them by field name):

* LiDAR (:data:`LIDAR_DTYPE`): ``x, y, z, intensity`` float32, ``ring`` uint16; LiDAR frame.
* radar (:data:`RADAR_DTYPE`): ``x, y, z, rcs, vx, vy, vx_comp, vy_comp`` float32; radar frame.
* occupancy (:data:`OCCUPANCY_DTYPE`): the CENTRES of occupied voxels, ``x, y, z``
  float32 (LiDAR frame), ``label`` uint16 (class id), ``state`` uint8: 2 (OCCUPIED) for
  observed voxels, 0 (UNKNOWN) for occupied voxels no sensor observes (SemanticKITTI
  "invalid"). Empty voxels are not listed, nor are solid interiors (occupied voxels
  whose 6 neighbours are all occupied), which keeps a frame near 1 MB instead of 10;
  the full label grid is in :class:`~.occupancy.OccupancyGroundTruth`. The grid
  geometry is in ``sim_rig.yaml``.

Beside the bag's ``metadata.yaml``, ``sim_rig.yaml`` records the rig: frame ids,
extrinsics (``T_base_<sensor>`` as a row-major 4x4 and as xyz + quaternion xyzw),
camera intrinsics, sensor rates, the occupancy grid and the class names.

The KITTI layout (:func:`write_kitti`) is the depth-completion ``val_selection_cropped``
one: ``image/`` (PNG), ``velodyne_raw/`` (LiDAR projected into the camera, uint16 PNG
depth x 256), ``groundtruth/`` (dense depth, same encoding), ``intrinsics/`` (the 3x3 K
as 9 numbers on one line, as KITTI writes it), file names ``0000000000.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import yaml
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.datasets.kitti import write_depth_png
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.geometry.transforms import compose, invert_transform, xyz_quat_from_transform
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN
from depth_completion_ros.sim import labels as class_labels
from depth_completion_ros.sim.lidar import LidarScan
from depth_completion_ros.sim.occupancy import OccupancyGroundTruth, touches
from depth_completion_ros.sim.radar import RADAR_FIELDS, RadarScan
from depth_completion_ros.sim.simulator import Simulator

BAG_START_NS = 1_700_000_000 * 10**9  # a fixed epoch: bags are reproducible byte for byte
ODOM_FRAME = "odom"
LIDAR_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"), ("ring", "<u2")])
RADAR_DTYPE = np.dtype([(name, "<f4") for name in RADAR_FIELDS])
OCCUPANCY_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("label", "<u2"), ("state", "u1")])
BAG_TOPICS = {
    "tf_static": ("/tf_static", "tf2_msgs/msg/TFMessage"),
    "tf": ("/tf", "tf2_msgs/msg/TFMessage"),
    "left_image": ("/camera/left/image_rect", "sensor_msgs/msg/Image"),
    "left_info": ("/camera/left/camera_info", "sensor_msgs/msg/CameraInfo"),
    "right_image": ("/camera/right/image_rect", "sensor_msgs/msg/Image"),
    "right_info": ("/camera/right/camera_info", "sensor_msgs/msg/CameraInfo"),
    "depth": ("/camera/left/depth/ground_truth", "sensor_msgs/msg/Image"),
    "semantic": ("/camera/left/semantic/ground_truth", "sensor_msgs/msg/Image"),
    "lidar": ("/lidar/points", "sensor_msgs/msg/PointCloud2"),
    "radar": ("/radar/points", "sensor_msgs/msg/PointCloud2"),
    "occupancy": ("/occupancy/ground_truth", "sensor_msgs/msg/PointCloud2"),
}
# /tf_static is latched (transient local), as tf2's static broadcaster publishes it.
_LATCHED = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, QosTime(0, 0),
               QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)
_POINTFIELD_DATATYPES = {np.dtype("i1"): 1, np.dtype("u1"): 2, np.dtype("<i2"): 3, np.dtype("<u2"): 4,
                         np.dtype("<i4"): 5, np.dtype("<u4"): 6, np.dtype("<f4"): 7, np.dtype("<f8"): 8}


def lidar_cloud(scan: LidarScan) -> np.ndarray:
    """(N,) :data:`LIDAR_DTYPE` structured array of a scan."""
    cloud = np.empty(scan.points.shape[0], dtype=LIDAR_DTYPE)
    for i, name in enumerate(("x", "y", "z", "intensity")):
        cloud[name] = scan.points[:, i]
    cloud["ring"] = scan.points[:, 4].astype(np.uint16)
    return cloud


def radar_cloud(scan: RadarScan) -> np.ndarray:
    """(M,) :data:`RADAR_DTYPE` structured array of a radar sweep."""
    return np.ascontiguousarray(scan.points, dtype="<f4").view(RADAR_DTYPE).reshape(-1)


def occupancy_cloud(occupancy: OccupancyGroundTruth) -> np.ndarray:
    """(K,) :data:`OCCUPANCY_DTYPE` structured array of the centres of the occupied voxels
    that have an empty 6-neighbour (solid interiors are left out)."""
    occupied = occupancy.labels > 0
    index = np.flatnonzero(occupied & touches(~occupied))
    centres = occupancy.grid.centres().reshape(-1, 3)[index]
    cloud = np.empty(index.size, dtype=OCCUPANCY_DTYPE)
    cloud["x"], cloud["y"], cloud["z"] = centres[:, 0], centres[:, 1], centres[:, 2]
    cloud["label"] = occupancy.labels.reshape(-1)[index]
    cloud["state"] = np.where(occupancy.invalid.reshape(-1)[index], UNKNOWN, OCCUPIED)
    return cloud


class _MessageFactory:
    """Builds ROS 2 messages as rosbags typestore classes and serializes them to CDR."""

    def __init__(self) -> None:
        self.store = get_typestore(Stores.ROS2_JAZZY)
        self.types = self.store.types

    def header(self, stamp_ns: int, frame_id: str):
        time = self.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        return self.types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)

    def image(self, array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
        array = np.ascontiguousarray(array)
        return self.types["sensor_msgs/msg/Image"](
            header=self.header(stamp_ns, frame_id), height=array.shape[0], width=array.shape[1], encoding=encoding,
            is_bigendian=0, step=array.strides[0], data=array.view(np.uint8).reshape(-1))

    def camera_info(self, camera: CameraModel, stamp_ns: int, frame_id: str):
        roi = self.types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                              do_rectify=False)
        return self.types["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, frame_id), height=camera.height, width=camera.width,
            distortion_model="plumb_bob", d=np.zeros(5), k=camera.K.reshape(-1).copy(), r=camera.R.reshape(-1).copy(),
            p=camera.P.reshape(-1).copy(), binning_x=0, binning_y=0, roi=roi)

    def pointcloud(self, cloud: np.ndarray, stamp_ns: int, frame_id: str):
        PointField = self.types["sensor_msgs/msg/PointField"]
        fields = [PointField(name=name, offset=cloud.dtype.fields[name][1],
                             datatype=_POINTFIELD_DATATYPES[cloud.dtype.fields[name][0]], count=1)
                  for name in cloud.dtype.names]
        return self.types["sensor_msgs/msg/PointCloud2"](
            header=self.header(stamp_ns, frame_id), height=1, width=cloud.shape[0], fields=fields,
            is_bigendian=False, point_step=cloud.dtype.itemsize, row_step=cloud.dtype.itemsize * cloud.shape[0],
            data=np.ascontiguousarray(cloud).view(np.uint8).reshape(-1), is_dense=True)

    def tf(self, transforms: list[tuple[np.ndarray, str, str]], stamp_ns: int):
        """A TFMessage of ``(T_parent_child, parent, child)`` triples."""
        t = self.types
        stamped = []
        for T, parent, child in transforms:
            xyz, q = xyz_quat_from_transform(T)
            transform = t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])),
                rotation=t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                                          w=float(q[3])))
            stamped.append(t["geometry_msgs/msg/TransformStamped"](header=self.header(stamp_ns, parent),
                                                                   child_frame_id=child, transform=transform))
        return t["tf2_msgs/msg/TFMessage"](transforms=stamped)

    def serialize(self, msg) -> bytes:
        return self.store.serialize_cdr(msg, msg.__msgtype__)


def rig_description(simulator: Simulator) -> dict:
    """The documented rig record written beside a bag or a KITTI folder (``sim_rig.yaml``)."""
    rig = simulator.rig
    extrinsics = {}
    for sensor, T in rig.extrinsics().items():
        xyz, q = xyz_quat_from_transform(T)
        extrinsics[sensor] = {"parent": rig.frame_ids["base"], "child": rig.frame_ids[sensor],
                              "matrix": [float(v) for v in T.reshape(-1)], "xyz": xyz.tolist(),
                              "quaternion_xyzw": q.tolist()}
    grid = rig.occupancy_grid
    world = simulator.world
    return {
        "rig": rig.name,
        "scene": world.kind,
        "seed": simulator.seed,
        "frame_ids": dict(rig.frame_ids, odom=ODOM_FRAME),
        "extrinsics_T_base_sensor": extrinsics,
        "cameras": {name: {"width": cam.width, "height": cam.height, "K": cam.K.reshape(-1).tolist(),
                           "P": cam.P.reshape(-1).tolist()}
                    for name, cam in (("left", rig.camera), ("right", rig.right_camera))},
        "stereo_baseline_m": rig.baseline,
        "rates_hz": {sensor: timing.rate_hz for sensor, timing in rig.timing.items()},
        "lidar": {"model": rig.lidar.name, "elevations_deg": rig.lidar.elevations_deg.tolist(),
                  "azimuth_step_deg": rig.lidar.azimuth_step_deg},
        "occupancy_grid": {"frame_id": grid.frame_id, "origin": list(grid.origin), "resolution": grid.resolution,
                           "shape": list(grid.shape),
                           "state_values": {"unknown": int(UNKNOWN), "occupied": int(OCCUPIED)}},
        "topics": {key: topic for key, (topic, _) in BAG_TOPICS.items()},
        "classes": (class_labels.SEMANTIC_KITTI_NAMES if world.kind == "street" else class_labels.INDOOR_CLASSES),
        "ego_speed_mps": float(world.trajectory.speed),
    }


def write_bag(simulator: Simulator, out: str | Path, duration: float,
              progress: Callable[[int], object] | None = None) -> dict[str, int]:
    """Write ``duration`` seconds of every sensor at its own rate into an MCAP bag.

    Args:
        simulator: the simulator.
        out: bag directory to create (must not exist).
        duration: seconds.
        progress: called with 1 after each sensor reading (e.g. ``tqdm.update``).

    Returns:
        ``{topic: message count}``.
    """
    out = Path(out)
    factory = _MessageFactory()
    rig = simulator.rig
    ids = rig.frame_ids
    stamps = simulator.sensor_stamps(duration)
    events = sorted((float(t), sensor) for sensor, times in stamps.items() for t in times)
    counts = {topic: 0 for topic, _ in BAG_TOPICS.values()}
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {key: writer.add_connection(topic, msgtype, typestore=factory.store,
                                                  offered_qos_profiles=[_LATCHED] if key == "tf_static" else [])
                       for key, (topic, msgtype) in BAG_TOPICS.items()}

        def write(key: str, msg, stamp_ns: int) -> None:
            writer.write(connections[key], stamp_ns, factory.serialize(msg))
            counts[BAG_TOPICS[key][0]] += 1

        static = [(T, ids["base"], ids[sensor]) for sensor, T in rig.extrinsics().items()]
        write("tf_static", factory.tf(static, BAG_START_NS), BAG_START_NS)
        for time, sensor in events:
            ns = BAG_START_NS + int(round(time * 1e9))
            if sensor == "camera":
                left, right = simulator.camera_image(time), simulator.camera_image(time, right=True)
                write("tf", factory.tf([(simulator.pose("base", time), ODOM_FRAME, ids["base"])], ns), ns)
                write("left_image", factory.image(left.rgb, "rgb8", ns, ids["camera"]), ns)
                write("left_info", factory.camera_info(rig.camera, ns, ids["camera"]), ns)
                write("right_image", factory.image(right.rgb, "rgb8", ns, ids["right_camera"]), ns)
                write("right_info", factory.camera_info(rig.right_camera, ns, ids["right_camera"]), ns)
                depth = np.where(left.depth > 0, left.depth, np.float32(np.nan)).astype("<f4")
                write("depth", factory.image(depth, "32FC1", ns, ids["camera"]), ns)
                write("semantic", factory.image(left.semantic.astype("<u2"), "mono16", ns, ids["camera"]), ns)
            elif sensor == "lidar":
                write("lidar", factory.pointcloud(lidar_cloud(simulator.lidar_scan(time)), ns, ids["lidar"]), ns)
                write("occupancy", factory.pointcloud(occupancy_cloud(simulator.occupancy(time)), ns, ids["lidar"]), ns)
            else:
                write("radar", factory.pointcloud(radar_cloud(simulator.radar_scan(time)), ns, ids["radar"]), ns)
            if progress is not None:
                progress(1)
    _write_rig_yaml(simulator, out)
    return counts


def write_kitti(simulator: Simulator, out: str | Path, frames: int,
                progress: Callable[[int], object] | None = None) -> int:
    """Write ``frames`` camera frames in the KITTI depth-completion layout.

    The LiDAR is cast at each camera stamp (KITTI's cameras are triggered by the LiDAR)
    and projected into the left camera without occlusion filtering, like KITTI's
    ``velodyne_raw``. Returns the number of frames written.
    """
    out = Path(out)
    folders = {name: out / name for name in ("image", "velodyne_raw", "groundtruth", "intrinsics")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    rig = simulator.rig
    T_camera_lidar = compose(invert_transform(rig.T_base_camera), rig.T_base_lidar)
    K_line = " ".join(f"{v:.6e}" for v in rig.camera.projection_intrinsics.reshape(-1))
    for index, time in enumerate(simulator.sensor_stamps(frames / rig.timing["camera"].rate_hz)["camera"][:frames]):
        name = f"{index:010d}"
        image = simulator.camera_image(float(time))
        scan = simulator.lidar_scan(float(time))
        if not cv2.imwrite(str(folders["image"] / f"{name}.png"), image.rgb[:, :, ::-1]):
            raise OSError(f"{folders['image']}: could not write {name}.png")
        write_depth_png(folders["velodyne_raw"] / f"{name}.png", points_to_sparse_depth(scan.points, rig.camera,
                                                                                          T_camera_lidar))
        write_depth_png(folders["groundtruth"] / f"{name}.png", image.depth)
        (folders["intrinsics"] / f"{name}.txt").write_text(K_line + "\n", encoding="utf-8")
        if progress is not None:
            progress(1)
    _write_rig_yaml(simulator, out)
    return frames


def _write_rig_yaml(simulator: Simulator, folder: Path) -> None:
    with open(folder / "sim_rig.yaml", "w", encoding="utf-8") as stream:
        yaml.safe_dump(rig_description(simulator), stream, sort_keys=False)
