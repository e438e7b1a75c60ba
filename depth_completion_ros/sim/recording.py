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
  the full label grid is in :class:`~depth_completion_ros.geometry.voxels.OccupancyGroundTruth`. The grid
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

# LIDAR_DTYPE and OCCUPANCY_DTYPE are re-exported: the bag layout is documented here.
from depth_completion_ros.datasets.bag_writer import LIDAR_DTYPE, OCCUPANCY_DTYPE, BagWriter, occupancy_cloud  # noqa: F401
from depth_completion_ros.datasets.bag_writer import lidar_cloud as shared_lidar_cloud
from depth_completion_ros.datasets.kitti import write_depth_png
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.geometry.transforms import compose, invert_transform, xyz_quat_from_transform
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN
from depth_completion_ros.sim import labels as class_labels
from depth_completion_ros.sim.lidar import LidarScan
from depth_completion_ros.sim.radar import RADAR_FIELDS, RadarScan
from depth_completion_ros.sim.simulator import Simulator

BAG_START_NS = 1_700_000_000 * 10**9  # a fixed epoch: bags are reproducible byte for byte
ODOM_FRAME = "odom"
RADAR_DTYPE = np.dtype([(name, "<f4") for name in RADAR_FIELDS])
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


def lidar_cloud(scan: LidarScan) -> np.ndarray:
    """(N,) :data:`LIDAR_DTYPE` structured array of a scan."""
    return shared_lidar_cloud(scan.points, scan.points[:, 4])


def radar_cloud(scan: RadarScan) -> np.ndarray:
    """(M,) :data:`RADAR_DTYPE` structured array of a radar sweep."""
    return np.ascontiguousarray(scan.points, dtype="<f4").view(RADAR_DTYPE).reshape(-1)


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
    rig = simulator.rig
    ids = rig.frame_ids
    stamps = simulator.sensor_stamps(duration)
    events = sorted((float(t), sensor) for sensor, times in stamps.items() for t in times)
    with BagWriter(out, dict(BAG_TOPICS.values())) as writer:
        factory = writer.factory

        def write(key: str, msg, stamp_ns: int) -> None:
            writer.write(BAG_TOPICS[key][0], msg, stamp_ns)

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
    return writer.counts


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
