"""The one place that turns a node's parameters into its completion engine, its
synchronizer configuration, its extrinsics and its CameraInfo choice (ROS-free).

The nodes (``ros/depth_completion_node.py``, ``ros/stereo_occupancy_node.py``) and ``dcr eval``
(offline and live) call :func:`engine_arguments`, :func:`sync_config` and
:func:`extrinsics_lookup` on a node's flat parameter dictionary, so an evaluation with a
parameters file builds what the node builds from it (weights, depth range, precision, method
parameters, a radar-only rig, extrinsics given as a matrix or as xyz + quaternion). The
defaults of these parameters are defined here once: the node's parameter table takes them
from :data:`NODE_DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import parse_extrinsic
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.message_frames import ExtrinsicsLookup
from depth_completion_ros.pipeline.engine import DEFAULT_MAX_DEPTH, DEFAULT_METHOD, DEFAULT_MIN_DEPTH, available_methods
from depth_completion_ros.pipeline.sync import SyncConfig

NODE_DEFAULTS: dict[str, object] = {
    "method": DEFAULT_METHOD,
    "weights": "",
    "device": "auto",
    "backend": "auto",
    "precision": "auto",
    "min_depth": DEFAULT_MIN_DEPTH,
    "max_depth": DEFAULT_MAX_DEPTH,
    "without_radar": "camera",
    "camera_height": 0.0,
    "camera_pitch_deg": 0.0,
    "use_lidar": True,
    "use_radar": False,
    "slop": 0.05,
    "queue_size": 10,
}
_GRID = VoxelGrid()  # SemanticKITTI's geometry: 256 x 256 x 32 voxels of 0.2 m ahead of the rig
# the stereo_occupancy node's grid (its parameter table takes these defaults)
GRID_DEFAULTS: dict[str, object] = {"grid.frame_id": "base_link", "grid.origin": list(_GRID.origin),
                                    "grid.resolution": _GRID.resolution, "grid.shape": list(_GRID.shape)}
NETWORK_METHODS = frozenset({"learned", "radar"})  # methods that take the precision setting
# sensor -> parameter prefix of its extrinsic (``<prefix>.matrix`` or ``.xyz`` + ``.quaternion``), per node
EXTRINSIC_PREFIXES: dict[str, dict[str, str]] = {
    "depth_completion": {"lidar": "lidar_to_camera", "radar": "radar_to_camera"},  # T_camera_sensor
    "stereo_occupancy": {"camera": "camera_to_grid"},  # T_grid_camera
}
# (target frame, source frame) -> T_target_source (4, 4), or None when the tree does not know it
TransformTree = Callable[[str, str], np.ndarray | None]


def with_defaults(params: Mapping[str, object]) -> dict[str, object]:
    """``params`` over :data:`NODE_DEFAULTS` (a parameters file sets only what differs)."""
    return {**NODE_DEFAULTS, **params}


def lidar_free_methods() -> list[str]:
    """Registered methods that give depth without LiDAR points (a radar-camera rig runs these)."""
    return sorted(name for name, spec in available_methods().items() if not spec.needs_lidar)


def method_params(params: Mapping[str, object]) -> dict[str, object]:
    """The engine's method parameters that node parameters set for ``params['method']``."""
    method = str(params["method"])
    values: dict[str, object] = {}
    if method in NETWORK_METHODS:
        values["fp16"] = params["precision"] != "fp32"
    if method == "learned":
        values["backend"] = params["backend"]
    if method == "radar":
        values["without_radar"] = params["without_radar"]
    if method in lidar_free_methods():  # radar methods cut their columns by the flat road
        if float(params["camera_height"]) > 0:
            values["camera_height"] = float(params["camera_height"])
        values["pitch_deg"] = float(params["camera_pitch_deg"])
    return values


def engine_arguments(params: Mapping[str, object], method: str | None = None) -> dict[str, object]:
    """Keyword arguments of :class:`~depth_completion_ros.pipeline.engine.CompletionEngine`
    for the node's parameters (``method`` replaces ``params['method']``: an evaluation
    compares several methods under one parameters file; the weights file then goes only to
    the configured method)."""
    configured = str(params["method"])
    method = configured if method is None else method
    chosen = {**params, "method": method}
    return {"method": method, "weights": (str(params["weights"]) or None) if method == configured else None,
            "device": str(params["device"]), "min_depth": float(params["min_depth"]),
            "max_depth": float(params["max_depth"]), "method_params": method_params(chosen)}


def sync_config(params: Mapping[str, object]) -> SyncConfig:
    """Sets built around each LiDAR sweep, or around each image without LiDAR (a radar-camera
    rig); radar is optional (without LiDAR a set waits for late radar until the next image)."""
    pivot, required = ("lidar", ("image",)) if params["use_lidar"] else ("image", ())
    optional = ("radar",) if params["use_radar"] else ()
    return SyncConfig(pivot=pivot, required=required, optional=optional,
                      awaited=() if params["use_lidar"] else optional,
                      slop_ns=int(float(params["slop"]) * 1e9), queue_size=int(params["queue_size"]))


def extrinsics_from_parameters(params: Mapping[str, object], prefixes: Mapping[str, str]
                               ) -> dict[str, tuple[str, np.ndarray | None]]:
    """sensor -> (parameter prefix, transform or None) from ``<prefix>.matrix`` (16 numbers)
    or ``<prefix>.xyz`` + ``<prefix>.quaternion`` parameter values.

    Raises:
        BadInputError: malformed values, naming the parameter.
    """
    out = {}
    for sensor, prefix in prefixes.items():
        matrix, xyz, quaternion = (params.get(f"{prefix}.{key}") or [] for key in ("matrix", "xyz", "quaternion"))
        T = None
        if len(matrix):
            T = parse_extrinsic({"matrix": list(matrix)}, prefix)
        elif len(xyz) or len(quaternion):
            T = parse_extrinsic({"xyz": list(xyz), "quaternion": list(quaternion)}, prefix)
        out[sensor] = (prefix, T)
    return out


def extrinsics_lookup(params: Mapping[str, object], node: str, tree: TransformTree | None = None) -> ExtrinsicsLookup:
    """A node's extrinsics: the transform tree first (TF in a node, the bag's ``/tf_static``
    offline), then the node's parameters (:data:`EXTRINSIC_PREFIXES`).

    Raises:
        BadInputError: malformed extrinsic parameters (at once); a lookup that neither the
            tree nor the parameters answer (when called), saying what to publish or set.
    """
    from_parameters = extrinsics_from_parameters(params, EXTRINSIC_PREFIXES[node])

    def lookup(sensor: str, target_frame: str, sensor_frame: str) -> np.ndarray:
        if tree is not None and target_frame and sensor_frame:
            T = tree(target_frame, sensor_frame)
            if T is not None:
                return T
        prefix, fallback = from_parameters[sensor]
        if fallback is None:
            raise BadInputError(
                f"extrinsics.{sensor}",
                f"no transform {target_frame} <- {sensor_frame}: publish it on TF (/tf_static in a bag) or set the "
                f"'{prefix}.matrix' (16 numbers) or '{prefix}.xyz' + '{prefix}.quaternion' parameters")
        return fallback

    return lookup


def grid_from_params(params: Mapping[str, object]) -> VoxelGrid:
    """The stereo_occupancy node's voxel grid from its ``grid.*`` parameters (defaults: :data:`GRID_DEFAULTS`)."""
    p = {**GRID_DEFAULTS, **{key: value for key, value in params.items() if key in GRID_DEFAULTS}}
    return VoxelGrid(origin=tuple(float(v) for v in p["grid.origin"]), resolution=float(p["grid.resolution"]),
                     shape=tuple(int(v) for v in p["grid.shape"]), frame_id=str(p["grid.frame_id"]))


def camera_info_for_image(infos: Sequence, image, topic: str = "camera_info") -> tuple[object, bool]:
    """The CameraInfo of an image: the last of ``infos`` with the image's stamp, else the
    latest one (a driver that stamps its CameraInfo on its own); and whether the stamp matched.

    Raises:
        BadInputError: no CameraInfo yet.
    """
    if not infos:
        raise BadInputError("camera_info", f"no CameraInfo received on '{topic}' yet")
    same_stamp = [info for info in infos if info.header.stamp == image.header.stamp]
    return (same_stamp[-1], True) if same_stamp else (infos[-1], False)
