"""The stereo occupancy node: a rectified stereo pair (or a dense depth image) in, voxel
occupancy out.

Subscribed and published topics and parameters: :data:`INTERFACE` (the README's "Nodes"
section is generated from it).

The grid lives in ``grid.frame_id``; the left camera's pose in it comes from TF when
tf2_ros is available, else from the ``camera_to_grid.*`` parameters. Occupancy methods:
``sgbm`` (SGBM depth voxelized with free space along each ray) and ``learned``
(the OccDepth-style network, ``weights``). Threading as in the depth-completion node.
"""

from __future__ import annotations

import array
import time

import numpy as np
from geometry_msgs.msg import Point
from nav_msgs.msg import OccupancyGrid
from rcl_interfaces.msg import ParameterType
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import ColorRGBA
from stereo_msgs.msg import DisparityImage
from visualization_msgs.msg import Marker, MarkerArray

from depth_completion_ros.datasets.messages import camera_info_to_model, image_to_depth, image_to_rgb
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.engine import describe_device, resolve_device
from depth_completion_ros.pipeline.node_config import GRID_DEFAULTS, grid_from_params
from depth_completion_ros.pipeline.occupancy import height_band_projection, insert_depth, occupied_voxels
from depth_completion_ros.pipeline.occupancy_methods import (
    TAKES_WEIGHTS,
    SgbmOccupancy,
    StereoFrame,
    create_occupancy_method,
    stereo_occupancy_methods,
)
from depth_completion_ros.pipeline.sync import MatchedSet, SyncConfig
from depth_completion_ros.ros.disparity import disparity_to_msg
from depth_completion_ros.ros.extrinsics import ExtrinsicsSource
from depth_completion_ros.ros.image import depth_to_image
from depth_completion_ros.ros.node_docs import NodeInterface, TopicSpec
from depth_completion_ros.ros.parameters import ParameterSpec
from depth_completion_ros.ros.pointcloud import array_to_pointcloud2
from depth_completion_ros.ros.stamps import make_header, stamp_to_ns
from depth_completion_ros.ros.synchronized_node import (
    COMMON_PARAMETERS,
    SynchronizedNode,
    extrinsic_parameters,
    spin_nodes,
)
from depth_completion_ros.stereo.matching import StereoParams, compute_disparity

_DOUBLES = ParameterType.PARAMETER_DOUBLE_ARRAY
_INTEGERS = ParameterType.PARAMETER_INTEGER_ARRAY
OCCUPIED_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("label", "<u2"), ("probability", "<f4")])

PARAMETERS = COMMON_PARAMETERS + (
    ParameterSpec("source", "stereo", "Occupancy from the stereo pair or from a dense depth image.",
                  choices=("stereo", "depth"), runtime=False),
    ParameterSpec("method", "sgbm", "Stereo occupancy method (the occupancy registry's methods without LiDAR).",
                  choices=stereo_occupancy_methods(), runtime=False),
    ParameterSpec("weights", "", "Weights of a learned method: learned, occdepth ('' = the shipped one).", runtime=False),
    ParameterSpec("device", "auto", "Compute device: auto = CUDA when available, else CPU.",
                  choices=("auto", "cpu", "cuda"), runtime=False),
    ParameterSpec("num_disparities", 128, "SGBM disparity search range, pixels (multiple of 16).", 16, 512,
                  runtime=False),
    ParameterSpec("block_size", 5, "SGBM matching window, pixels (odd).", 1, 21, runtime=False),
    ParameterSpec("max_range", 45.0, "Depths beyond this only clear space, metres.", 1.0, 500.0),
    ParameterSpec("grid.frame_id", GRID_DEFAULTS["grid.frame_id"], "Frame of the voxel grid (a fixed frame: base_link, the LiDAR...).",
                  runtime=False),
    ParameterSpec("grid.origin", GRID_DEFAULTS["grid.origin"], "Minimum corner of the grid in grid.frame_id, metres.",
                  array_type=_DOUBLES, runtime=False),
    ParameterSpec("grid.resolution", GRID_DEFAULTS["grid.resolution"], "Voxel edge, metres.", 0.01, 5.0, runtime=False),
    ParameterSpec("grid.shape", GRID_DEFAULTS["grid.shape"], "Voxels along x, y, z.", array_type=_INTEGERS, runtime=False),
    ParameterSpec("publish_markers", False, "Also publish occupancy/markers (RViz collapses above ~20k cubes)."),
    ParameterSpec("markers_rate", 1.0, "Largest occupancy/markers rate, Hz.", 0.01, 30.0),
    ParameterSpec("max_markers", 20000, "Most cubes in one MarkerArray (the nearest are kept).", 1, 1_000_000),
    ParameterSpec("band_min_z", 0.1, "Lowest voxel centre of the Nav2 height band, metres in grid.frame_id.",
                  -100.0, 100.0),
    ParameterSpec("band_max_z", 1.8, "Highest voxel centre of the Nav2 height band, metres.", -100.0, 100.0),
    *extrinsic_parameters("camera_to_grid", "Left camera", "the grid frame"),
)

SUBSCRIBED = (
    TopicSpec("left/image_rect", "sensor_msgs/Image", "Rectified left image; with `source: stereo` (the default)."),
    TopicSpec("left/camera_info", "sensor_msgs/CameraInfo", "With `source: stereo`."),
    TopicSpec("right/image_rect", "sensor_msgs/Image", "Rectified right image; with `source: stereo`."),
    TopicSpec("right/camera_info", "sensor_msgs/CameraInfo", "With `source: stereo`."),
    TopicSpec("depth", "sensor_msgs/Image", "32FC1 m or 16UC1 mm (e.g. the depth-completion node's output); "
              "with `source: depth`."),
    TopicSpec("depth/camera_info", "sensor_msgs/CameraInfo", "With `source: depth`."),
)
PUBLISHED = (
    TopicSpec("disparity", "stereo_msgs/DisparityImage", "SGBM disparity; stereo source."),
    TopicSpec("depth", "sensor_msgs/Image", "32FC1, REP 118; stereo source."),
    TopicSpec("occupancy/points", "sensor_msgs/PointCloud2", "Occupied voxel centres: x, y, z, label, probability."),
    TopicSpec("occupancy/markers", "visualization_msgs/MarkerArray", "CUBE_LIST, throttled, optional."),
    TopicSpec("occupancy/grid", "nav_msgs/OccupancyGrid", "The height band [`band_min_z`, `band_max_z`] for Nav2."),
    TopicSpec("~/diagnostics", "diagnostic_msgs/DiagnosticArray", "1 Hz: rates, latency, drops by reason."),
)
INTERFACE = NodeInterface("stereo_occupancy", "A rectified stereo pair (or a dense depth image) in, voxel occupancy "
                          "out (`launch/stereo_occupancy.launch.py`, or `dcr run` with a `stereo_occupancy:` section in its "
                          "parameters file).", SUBSCRIBED, PUBLISHED, PARAMETERS)


def _class_colour(labels: np.ndarray) -> np.ndarray:
    """(M, 3) float colours in [0, 1], a fixed hue per class id."""
    hue = (labels.astype(np.float64) * 0.618033988749895) % 1.0
    return np.stack([0.5 + 0.5 * np.cos(2 * np.pi * (hue + k / 3)) for k in range(3)], axis=1)


class StereoOccupancyNode(SynchronizedNode):
    """See the module docstring for topics and parameters."""

    def __init__(self, **kwargs) -> None:
        super().__init__("stereo_occupancy", PARAMETERS, **kwargs)
        p = self.params
        self.grid = grid_from_params(p)
        self.device = resolve_device(p["device"])
        self.stereo_params = StereoParams(num_disparities=p["num_disparities"], block_size=p["block_size"])
        self.method = None
        if p["source"] == "stereo":
            options = {"device": self.device}
            if p["method"] in TAKES_WEIGHTS and p["weights"]:
                options["weights"] = p["weights"]
            if p["method"] == "sgbm":
                options.update(params=self.stereo_params, max_range=p["max_range"])
            self.method = create_occupancy_method(p["method"], **options)
        self.extrinsics = ExtrinsicsSource(self, p, "stereo_occupancy")
        self.pub_disparity = self.create_publisher(DisparityImage, "disparity", self.output_qos)
        self.pub_depth = self.create_publisher(Image, "depth", self.output_qos)
        self.pub_points = self.create_publisher(PointCloud2, "occupancy/points", self.output_qos)
        self.pub_markers = self.create_publisher(MarkerArray, "occupancy/markers", self.output_qos)
        self.pub_grid = self.create_publisher(OccupancyGrid, "occupancy/grid", self.output_qos)
        self._last_markers = -np.inf
        self.get_logger().info(
            f"stereo occupancy: source '{p['source']}', method '{p['method']}' on {describe_device(self.device)}; "
            f"grid {self.grid.shape} at {self.grid.resolution} m in '{self.grid.frame_id}'"
        )
        self.ready()

    def inputs(self, params: dict) -> dict[str, tuple[type, str | None]]:
        if params["source"] == "depth":
            return {"depth": (Image, "depth"), "depth/camera_info": (CameraInfo, None)}
        return {"left/image_rect": (Image, "left"), "left/camera_info": (CameraInfo, None),
                "right/image_rect": (Image, "right"), "right/camera_info": (CameraInfo, None)}

    def sync_config(self, params: dict) -> SyncConfig:
        slop, queue = int(params["slop"] * 1e9), params["queue_size"]
        if params["source"] == "depth":
            return SyncConfig(pivot="depth", required=(), slop_ns=slop, queue_size=queue)
        return SyncConfig(pivot="left", required=("right",), slop_ns=slop, queue_size=queue)

    def diagnostic_values(self) -> dict[str, object]:
        return {"device": describe_device(self.device), "method": self.params["method"], "source": self.params["source"]}

    def process(self, matched: MatchedSet) -> None:
        start = time.perf_counter()
        if self.params["source"] == "depth":
            message = matched.messages["depth"].payload
            camera = camera_info_to_model(self.camera_info_for("depth/camera_info", message))
            T_grid_camera = self.extrinsics.lookup("camera", self.grid.frame_id, message.header.frame_id)
            grid = insert_depth(self.grid, image_to_depth(message), camera, T_grid_camera,
                                max_range=self.params["max_range"], device=self.device)
        else:
            message = matched.messages["left"].payload
            grid = self._stereo(message, matched.messages["right"].payload)
        stamp_ns = stamp_to_ns(message.header.stamp)
        self._publish_occupancy(grid, stamp_ns)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        self.stats.published((self.get_clock().now().nanoseconds - stamp_ns) / 1e6, elapsed_ms)

    def _stereo(self, left_msg, right_msg) -> VoxelGrid:
        """Disparity and depth of the pair (published), then the method's occupancy."""
        left_camera = camera_info_to_model(self.camera_info_for("left/camera_info", left_msg))
        right_camera = camera_info_to_model(self.camera_info_for("right/camera_info", right_msg))
        left, right = image_to_rgb(left_msg), image_to_rgb(right_msg)
        frame_id, stamp_ns = left_msg.header.frame_id, stamp_to_ns(left_msg.header.stamp)
        frame = StereoFrame(left, right, left_camera, right_camera,
                            self.extrinsics.lookup("camera", self.grid.frame_id, frame_id))
        disparity = compute_disparity(left, right, left_camera, right_camera, self.stereo_params)
        self.pub_disparity.publish(disparity_to_msg(disparity, stamp_ns, frame_id))
        self.pub_depth.publish(depth_to_image(disparity.to_depth(), "32FC1", stamp_ns, frame_id))
        if isinstance(self.method, SgbmOccupancy):
            return self.method.from_disparity(disparity, frame, self.grid)
        return self.method(frame, self.grid)

    def _publish_occupancy(self, grid: VoxelGrid, stamp_ns: int) -> None:
        centres, labels, probability = occupied_voxels(grid)
        cloud = np.zeros(centres.shape[0], dtype=OCCUPIED_DTYPE)
        cloud["x"], cloud["y"], cloud["z"] = centres[:, 0], centres[:, 1], centres[:, 2]
        cloud["label"] = 0 if labels is None else labels
        cloud["probability"] = 1.0 if probability is None else probability
        self.pub_points.publish(array_to_pointcloud2(cloud, stamp_ns, grid.frame_id))
        self.pub_grid.publish(self._occupancy_grid(grid, stamp_ns))
        now = time.monotonic()
        if self.params["publish_markers"] and now - self._last_markers >= 1.0 / self.params["markers_rate"]:
            self._last_markers = now
            self.pub_markers.publish(self._markers(cloud, grid, stamp_ns))

    def _occupancy_grid(self, grid: VoxelGrid, stamp_ns: int) -> OccupancyGrid:
        cells = height_band_projection(grid, self.params["band_min_z"], self.params["band_max_z"])
        msg = OccupancyGrid(header=make_header(stamp_ns, grid.frame_id))
        msg.info.resolution = float(grid.resolution)
        msg.info.width, msg.info.height = int(grid.shape[0]), int(grid.shape[1])
        msg.info.origin.position.x, msg.info.origin.position.y = float(grid.origin[0]), float(grid.origin[1])
        msg.info.origin.position.z = float(self.params["band_min_z"])
        msg.info.origin.orientation.w = 1.0
        msg.data = array.array("b", np.ascontiguousarray(cells.T).tobytes())  # rows along y
        return msg

    def _markers(self, cloud: np.ndarray, grid: VoxelGrid, stamp_ns: int) -> MarkerArray:
        """One CUBE_LIST of at most ``max_markers`` cubes, the nearest to the grid origin."""
        limit = self.params["max_markers"]
        if cloud.shape[0] > limit:
            distance = cloud["x"] ** 2 + cloud["y"] ** 2 + cloud["z"] ** 2
            cloud = cloud[np.argsort(distance)[:limit]]
            self.warn("markers_capped", f"occupancy/markers shows the nearest {limit} of the occupied voxels "
                      "(raise max_markers, or use occupancy/points in RViz for all)")
        marker = Marker(header=make_header(stamp_ns, grid.frame_id), ns="occupancy", id=0, type=Marker.CUBE_LIST,
                        action=Marker.ADD)
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = float(grid.resolution)
        marker.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in zip(cloud["x"], cloud["y"], cloud["z"])]
        marker.colors = [ColorRGBA(r=float(r), g=float(g), b=float(b), a=1.0)
                         for r, g, b in _class_colour(cloud["label"])]
        return MarkerArray(markers=[marker])


def main(args: list[str] | None = None) -> None:
    spin_nodes([StereoOccupancyNode], args)


if __name__ == "__main__":
    main()
