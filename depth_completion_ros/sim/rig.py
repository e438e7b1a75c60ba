"""Sensor rig configuration: cameras, stereo, LiDAR, radar, occupancy grid, rates.

A rig is read from a YAML file or a dict (:func:`load_rig`); the built-ins ``kitti``
and ``nuscenes`` live in ``config/rigs/<name>.yaml`` (installed to
``share/depth_completion_ros/config/rigs``), which documents every key.

Frames: ``base_link`` sits on the ground under the rig (REP 103: x forward, y left,
z up) and moves along the ego trajectory. Every sensor has ``T_base_<sensor>`` given
in any form :func:`~depth_completion_ros.geometry.transforms.parse_extrinsic` accepts
(``matrix``, or ``xyz`` plus ``quaternion``/``rpy``). The right camera of the stereo
pair is the left camera shifted by ``baseline`` metres along its optical x axis,
with the same rectified intrinsics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from depth_completion_ros.config_files import load_yaml
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import compose, make_transform, parse_extrinsic
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.resources import share_dir
from depth_completion_ros.sim.lidar import LidarModel
from depth_completion_ros.sim.radar import RadarModel

BUILTIN_RIGS = ("kitti", "nuscenes")


@dataclass(frozen=True)
class SensorTiming:
    """Nominal rate (Hz) and timestamp jitter (Gaussian std, seconds) of one sensor."""

    rate_hz: float
    jitter_s: float = 0.0


@dataclass(frozen=True)
class CameraAppearance:
    """Image-formation options: noise (std, 8-bit levels), blur (Gaussian sigma, px), exposure jitter (fraction)."""

    noise_std: float = 2.0
    blur_sigma: float = 0.0
    exposure_jitter: float = 0.15


@dataclass(frozen=True, eq=False)
class Rig:
    """A complete sensor rig.

    Attributes:
        name: rig name.
        camera: left (reference) camera, rectified pinhole.
        right_camera: right camera of the rectified pair (``P[0, 3] = -fx * baseline``),
            whose projection takes points in the LEFT camera frame, as CameraInfo does.
        baseline: stereo baseline in metres.
        lidar, radar: sensor models.
        occupancy_grid: ground-truth voxel grid, in the LiDAR frame.
        T_base_camera, T_base_right_camera, T_base_lidar, T_base_radar: (4, 4) extrinsics.
        frame_ids: ROS frame name of each sensor (``base``, ``camera``, ``right_camera``,
            ``lidar``, ``radar``).
        timing: :class:`SensorTiming` of ``camera``, ``lidar`` and ``radar``.
        appearance: camera image-formation options.
    """

    name: str
    camera: CameraModel
    right_camera: CameraModel
    baseline: float
    lidar: LidarModel
    radar: RadarModel
    occupancy_grid: VoxelGrid
    T_base_camera: np.ndarray
    T_base_right_camera: np.ndarray
    T_base_lidar: np.ndarray
    T_base_radar: np.ndarray
    frame_ids: dict[str, str]
    timing: dict[str, SensorTiming]
    appearance: CameraAppearance

    def extrinsics(self) -> dict[str, np.ndarray]:
        """``{sensor: T_base_sensor}`` for camera, right_camera, lidar and radar."""
        return {"camera": self.T_base_camera, "right_camera": self.T_base_right_camera,
                "lidar": self.T_base_lidar, "radar": self.T_base_radar}


def rig_config_path(name: str) -> Path:
    """Path of a built-in rig's YAML in the package's ``config/rigs`` (:func:`~depth_completion_ros.resources.share_dir`)."""
    path = share_dir() / "config" / "rigs" / f"{name}.yaml"
    if not path.is_file():
        raise BadInputError("rig", f"built-in rig '{name}' not found: {path} is missing (reinstall the package)")
    return path


def load_rig(spec: str | Path | Mapping) -> Rig:
    """A rig from a built-in name (``kitti``, ``nuscenes``), a YAML path or a dict."""
    if isinstance(spec, Mapping):
        return rig_from_dict(spec)
    path = rig_config_path(str(spec)) if str(spec) in BUILTIN_RIGS else Path(spec)
    if not path.is_file():
        raise BadInputError("rig", f"'{spec}' is neither a built-in rig ({', '.join(BUILTIN_RIGS)}) nor a YAML file")
    config = load_yaml(path, "rig file (see config/rigs/kitti.yaml)")
    try:
        return rig_from_dict(config)
    except BadInputError as error:
        raise BadInputError(f"{path}: {error.field}", error.problem) from None


def _section(config: Mapping, key: str) -> Mapping:
    value = config.get(key)
    if not isinstance(value, Mapping):
        raise BadInputError(f"rig.{key}", "missing or not a mapping (see config/rigs/kitti.yaml)")
    return value


def _options(cls, section: Mapping, where: str, skip: tuple[str, ...] = ()) -> dict:
    """The keys of ``section`` that are fields of dataclass ``cls``; unknown keys are errors."""
    names = {f.name for f in fields(cls) if f.init}
    unknown = set(section) - names - set(skip)
    if unknown:
        raise BadInputError(where, f"unknown key(s) {sorted(unknown)}; known: {sorted(names | set(skip))}")
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items() if k in names}


def _extrinsic(section: Mapping, key: str, where: str) -> np.ndarray:
    if key not in section:
        raise BadInputError(f"{where}.{key}", "is required: {xyz: [x, y, z], rpy: [r, p, y]} or {matrix: [16]}")
    return parse_extrinsic(section[key], f"{where}.{key}")


def _timing(section: Mapping, where: str) -> SensorTiming:
    rate = float(section.get("rate_hz", 10.0))
    if not rate > 0:
        raise BadInputError(f"{where}.rate_hz", f"must be positive, got {rate}")
    return SensorTiming(rate_hz=rate, jitter_s=float(section.get("jitter_ms", 0.0)) / 1000.0)


def rig_from_dict(config: Mapping) -> Rig:
    """Build a :class:`Rig` from a parsed rig config (the layout of ``config/rigs/kitti.yaml``)."""
    cam = _section(config, "camera")
    try:
        camera = CameraModel.from_intrinsics(float(cam["fx"]), float(cam.get("fy", cam["fx"])), float(cam["cx"]),
                                             float(cam["cy"]), int(cam["width"]), int(cam["height"]))
    except KeyError as missing:
        raise BadInputError(f"rig.camera.{missing.args[0]}", "is required (fx, cx, cy, width, height)") from None
    baseline = float(_section(config, "stereo").get("baseline", 0.54))
    if not baseline > 0:
        raise BadInputError("rig.stereo.baseline", f"must be positive metres, got {baseline}")
    P_right = camera.P.copy()
    P_right[0, 3] = -camera.fx * baseline
    right_camera = CameraModel(width=camera.width, height=camera.height, K=camera.K, P=P_right)
    T_base_camera = _extrinsic(cam, "T_base_camera", "rig.camera")
    T_base_right = compose(T_base_camera, make_transform(np.eye(3), [baseline, 0.0, 0.0]))

    lidar_cfg = _section(config, "lidar")
    lidar_options = _options(LidarModel, lidar_cfg, "rig.lidar",
                             skip=("model", "frame_id", "T_base_lidar", "rate_hz", "jitter_ms"))
    model_name = str(lidar_cfg.get("model", "HDL-64E"))
    if "elevations_deg" in lidar_options:  # a custom beam table
        lidar_options.setdefault("name", model_name)
        lidar = LidarModel(**lidar_options)
    else:
        lidar = LidarModel.builtin(model_name, **lidar_options)
    radar_cfg = _section(config, "radar")
    radar = RadarModel(**_options(RadarModel, radar_cfg, "rig.radar",
                                  skip=("frame_id", "T_base_radar", "rate_hz", "jitter_ms")))
    grid_cfg = config.get("occupancy", {})
    frame_ids = {
        "base": str(config.get("base_frame", "base_link")),
        "camera": str(cam.get("frame_id", "camera_left_optical_frame")),
        "right_camera": str(config["stereo"].get("frame_id", "camera_right_optical_frame")),
        "lidar": str(lidar_cfg.get("frame_id", "lidar")),
        "radar": str(radar_cfg.get("frame_id", "radar")),
    }
    grid = VoxelGrid(origin=tuple(grid_cfg.get("origin", (0.0, -25.6, -2.0))),
                     resolution=float(grid_cfg.get("resolution", 0.2)),
                     shape=tuple(grid_cfg.get("shape", (256, 256, 32))), frame_id=frame_ids["lidar"])
    return Rig(
        name=str(config.get("name", "custom")),
        camera=camera,
        right_camera=right_camera,
        baseline=baseline,
        lidar=lidar,
        radar=radar,
        occupancy_grid=grid,
        T_base_camera=T_base_camera,
        T_base_right_camera=T_base_right,
        T_base_lidar=_extrinsic(lidar_cfg, "T_base_lidar", "rig.lidar"),
        T_base_radar=_extrinsic(radar_cfg, "T_base_radar", "rig.radar"),
        frame_ids=frame_ids,
        timing={"camera": _timing(cam, "rig.camera"), "lidar": _timing(lidar_cfg, "rig.lidar"),
                "radar": _timing(radar_cfg, "rig.radar")},
        appearance=CameraAppearance(**_options(CameraAppearance, config.get("appearance", {}), "rig.appearance")),
    )
