"""Writing ROS 2 MCAP bags without ROS: the one message factory and a streaming writer.

Messages are built as ``rosbags`` typestore classes (ROS 2 Jazzy definitions) and
serialized to CDR, so nothing here imports a ROS package. The simulator's recorder and
the data-set converters (``dcr convert``) both write through :class:`BagWriter`, and
:class:`~depth_completion_ros.datasets.bag.Bag` plus the package's message readers
(``ros.image``, ``ros.pointcloud``, ``ros.camera_info``) read what it writes.

Point cloud layouts shared by every writer (little-endian, unpadded, read by field name):

* LiDAR (:data:`LIDAR_DTYPE`): ``x, y, z, intensity`` float32, ``ring`` uint16.
* occupancy ground truth (:data:`OCCUPANCY_DTYPE`): see :func:`occupancy_cloud`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import xyz_quat_from_transform
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, UNKNOWN, OccupancyGroundTruth, touches

TF_STATIC_TOPIC = "/tf_static"
LIDAR_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"), ("ring", "<u2")])
OCCUPANCY_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("label", "<u2"), ("state", "u1")])
# /tf_static is latched (transient local), as tf2's static broadcaster publishes it.
LATCHED_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, QosTime(0, 0),
                  QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)
_POINTFIELD_DATATYPES = {np.dtype("i1"): 1, np.dtype("u1"): 2, np.dtype("<i2"): 3, np.dtype("<u2"): 4,
                         np.dtype("<i4"): 5, np.dtype("<u4"): 6, np.dtype("<f4"): 7, np.dtype("<f8"): 8}


def lidar_cloud(points: np.ndarray, rings: np.ndarray) -> np.ndarray:
    """(N,) :data:`LIDAR_DTYPE` array from (N, 4+) x, y, z, intensity and (N,) ring ids."""
    cloud = np.empty(points.shape[0], dtype=LIDAR_DTYPE)
    for i, name in enumerate(("x", "y", "z", "intensity")):
        cloud[name] = points[:, i]
    cloud["ring"] = np.asarray(rings).astype(np.uint16)
    return cloud


def occupancy_cloud(occupancy: OccupancyGroundTruth, free: bool = False) -> np.ndarray:
    """(K,) :data:`OCCUPANCY_DTYPE` array of voxel CENTRES in the grid's frame.

    By default the occupied voxels that have an empty 6-neighbour (solid interiors are left
    out, which keeps a frame near 1 MB instead of 10), with ``label`` (class id) and
    ``state``: 2 (OCCUPIED) for observed voxels, 0 (UNKNOWN) for voxels no sensor observes
    (SemanticKITTI "invalid"); a reader counts the voxels the cloud does not list as empty.

    With ``free``, every occupied voxel and also every observed EMPTY voxel (``label`` 0,
    ``state`` 1, FREE): the cloud then says which voxels were observed, and a reader
    (:func:`~depth_completion_ros.eval.occupancy.ground_truth_from_cloud`) counts the
    voxels it does not list as unobserved. Targets scored in part of a grid only (a camera
    frustum) need it.
    """
    occupied = occupancy.labels > 0
    listed = occupied if free else occupied & touches(~occupied)
    if free:
        listed = listed | (~occupied & ~occupancy.invalid)
    index = np.flatnonzero(listed)
    centres = occupancy.grid.centres().reshape(-1, 3)[index]
    cloud = np.empty(index.size, dtype=OCCUPANCY_DTYPE)
    cloud["x"], cloud["y"], cloud["z"] = centres[:, 0], centres[:, 1], centres[:, 2]
    cloud["label"] = occupancy.labels.reshape(-1)[index]
    observed = np.where(occupied.reshape(-1)[index], OCCUPIED, FREE)
    cloud["state"] = np.where(occupancy.invalid.reshape(-1)[index], UNKNOWN, observed)
    return cloud


class BagMessageFactory:
    """Builds ROS 2 messages as rosbags typestore classes and serializes them to CDR."""

    def __init__(self) -> None:
        self.store = get_typestore(Stores.ROS2_JAZZY)
        self.types = self.store.types

    def header(self, stamp_ns: int, frame_id: str):
        time = self.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        return self.types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)

    def image(self, array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
        """``sensor_msgs/Image`` of an (H, W) or (H, W, C) array in ``encoding`` (e.g. rgb8, mono8, 32FC1)."""
        array = np.ascontiguousarray(array)
        return self.types["sensor_msgs/msg/Image"](
            header=self.header(stamp_ns, frame_id), height=array.shape[0], width=array.shape[1], encoding=encoding,
            is_bigendian=0, step=array.strides[0], data=array.view(np.uint8).reshape(-1))

    def camera_info(self, camera: CameraModel, stamp_ns: int, frame_id: str):
        """``sensor_msgs/CameraInfo`` holding the model's K, D, R, P and size (no binning or ROI)."""
        roi = self.types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                              do_rectify=False)
        D = np.zeros(5) if camera.D.size == 0 else camera.D.copy()
        return self.types["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, frame_id), height=camera.height, width=camera.width,
            distortion_model=camera.distortion_model, d=D, k=camera.K.reshape(-1).copy(),
            r=camera.R.reshape(-1).copy(), p=camera.P.reshape(-1).copy(), binning_x=0, binning_y=0, roi=roi)

    def pointcloud(self, cloud: np.ndarray, stamp_ns: int, frame_id: str):
        """Unorganized ``sensor_msgs/PointCloud2`` of an (N,) little-endian structured array."""
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


PARTIAL_KEY = "depth_completion_ros.partial"  # metadata.yaml custom_data of a bag cut short


def partial_reason(bag_dir: str | Path) -> str | None:
    """Why the bag in ``bag_dir`` was cut short (its metadata's :data:`PARTIAL_KEY`), or None."""
    metadata = Path(bag_dir) / "metadata.yaml"
    if not metadata.is_file():
        return None
    info = yaml.safe_load(metadata.read_text()).get("rosbag2_bagfile_information", {})
    return (info.get("custom_data") or {}).get(PARTIAL_KEY)


class BagWriter:
    """A new MCAP bag written message by message (nothing is held back in memory).

    Use as a context manager; ``/tf_static`` is offered latched, as tf2 publishes it.

    Args:
        out: bag directory to create; it must not exist.
        topics: topic -> message type (e.g. ``"sensor_msgs/msg/Image"``).
    """

    def __init__(self, out: str | Path, topics: dict[str, str]) -> None:
        self.path = Path(out)
        if self.path.exists():
            raise BadInputError(str(self.path), "already exists; remove it or choose another output path")
        self.factory = BagMessageFactory()
        self.counts = {topic: 0 for topic in topics}
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._topics = topics
        self._connections: dict[str, object] = {}

    def __enter__(self) -> BagWriter:
        try:
            self._writer.open()
        except (WriterError, OSError) as error:
            raise BadInputError(str(self.path), f"cannot create the bag ({error})") from None
        try:
            for topic, msgtype in self._topics.items():
                self._connections[topic] = self._writer.add_connection(
                    topic, msgtype, typestore=self.factory.store,
                    offered_qos_profiles=[LATCHED_QOS] if topic == TF_STATIC_TOPIC else [])
        except BaseException as error:  # e.g. Ctrl-C right after the file was created: close it, marked
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:  # Ctrl-C or an error: what was written stays readable, marked partial
            self._writer.set_custom_data(PARTIAL_KEY, f"stopped by {exc_type.__name__} after "
                                                      f"{sum(self.counts.values())} messages")
        self._writer.close()

    def write(self, topic: str, msg, stamp_ns: int) -> None:
        """Serialize ``msg`` and append it with log time ``stamp_ns``."""
        self.write_serialized(topic, self.factory.serialize(msg), stamp_ns)

    def write_serialized(self, topic: str, raw: bytes, log_time_ns: int) -> None:
        """Append an already serialized (CDR) message, e.g. one received from DDS as it came."""
        self._writer.write(self._connections[topic], log_time_ns, raw)
        self.counts[topic] += 1


@dataclass(frozen=True)
class Reading:
    """One sensor reading to convert: written by ``write(writer, stamp_ns)`` when its turn comes.

    ``write`` reads the reading's file only then, so a conversion holds one reading at a time.
    """

    stamp_ns: int
    source: str
    write: Callable[[BagWriter, int], None]


@dataclass
class ConversionPlan:
    """What a converter will write: topics, static transforms, and readings (any order).

    Attributes:
        topics: topic -> message type.
        static: ``(T_parent_child, parent, child)`` triples for ``/tf_static``.
        readings: the readings; :func:`write_plan` writes them in stamp order.
    """

    topics: dict[str, str]
    static: list[tuple[np.ndarray, str, str]]
    readings: list[Reading] = field(default_factory=list)


def write_plan(plan: ConversionPlan, out: str | Path,
               progress: Callable[[int], object] | None = None) -> dict[str, int]:
    """Write ``/tf_static`` (at the first stamp), then every reading in stamp order.

    If a reading fails, the partial bag is removed and the error (naming the reading's
    file) is raised, so a failed conversion never leaves a bag that looks complete. On
    Ctrl-C the bag written so far is kept, marked partial (:func:`partial_reason`).

    Returns:
        ``{topic: message count}``.
    """
    readings = sorted(plan.readings, key=lambda reading: reading.stamp_ns)
    topics = dict(plan.topics, **{TF_STATIC_TOPIC: "tf2_msgs/msg/TFMessage"})
    writer = BagWriter(out, topics)
    try:
        with writer:
            first = readings[0].stamp_ns if readings else 0
            writer.write(TF_STATIC_TOPIC, writer.factory.tf(plan.static, first), first)
            for reading in readings:
                try:
                    reading.write(writer, reading.stamp_ns)
                except BadInputError:
                    raise
                except (OSError, ValueError) as error:
                    raise BadInputError(reading.source, f"cannot convert ({error})") from None
                if progress is not None:
                    progress(1)
    except BaseException as error:
        if not isinstance(error, KeyboardInterrupt):
            shutil.rmtree(writer.path, ignore_errors=True)
        raise
    return writer.counts
