"""Spinning LiDAR simulation: beam models, ray casting, noise, dropout, intensity.

LiDAR frame: REP 103 (x forward, y left, z up). A beam of ring r at azimuth a points
along ``(cos e cos a, cos e sin a, sin e)`` with ``e = elevations_deg[r]``. Rings are
numbered from the lowest beam upwards (as ``velodyne_pointcloud`` does): the built-in
tables are sorted ascending.

Output of :func:`scan_lidar`: an (N, 5) float32 array ``x, y, z, intensity, ring`` in the
LiDAR frame (metres; intensity in [0, 1]; ring as a float holding an integer), ordered
by azimuth column then ring, like a spinning sensor's firing order, plus the class id of
each return.

The sensor model:
* range noise: Gaussian along the beam (``range_noise_std`` metres);
* dropout: probability ``dropout + dark_dropout (1 - reflectivity) +
  grazing_dropout (1 - |cos i|)^2`` with i the incidence angle, so dark and grazing
  surfaces lose more returns;
* intensity: ``reflectivity * |cos i|`` plus Gaussian noise, clipped to [0, 1];
* no return beyond ``max_range`` or closer than ``min_range``, and none from the sky.
Motion distortion within a sweep is not modelled: the whole sweep is cast at one time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.sim.raycast import cast_rays, spherical_directions
from depth_completion_ros.sim.world import WorldSnapshot

_HDL64E = np.concatenate([-8.83 - 0.5 * np.arange(32), 2.0 - np.arange(32) / 3.0])
_VLP32C = [-25.0, -15.639, -11.31, -8.843, -7.254, -6.148, -5.333, -4.667, -4.0, -3.667, -3.333, -3.0, -2.667,
           -2.333, -2.0, -1.667, -1.333, -1.0, -0.667, -0.333, 0.0, 0.333, 0.667, 1.0, 1.333, 1.667, 2.333,
           3.333, 4.667, 7.0, 10.333, 15.0]  # fmt: skip

# Built-in elevation tables in degrees, sorted ascending (ring 0 = lowest beam), with the
# azimuth step of each sensor at 10 Hz.
ELEVATION_TABLES: dict[str, np.ndarray] = {
    "HDL-64E": np.sort(_HDL64E),  # upper block +2..-8.33 at 1/3 deg, lower -8.83..-24.33 at 1/2 deg
    "HDL-32E": -30.67 + np.arange(32) * (41.33 / 31),  # nuScenes LIDAR_TOP
    "VLP-32C": np.asarray(_VLP32C),  # Velodyne VLP-32C manual table (non-uniform)
    "VLP-16": -15.0 + 2.0 * np.arange(16),
    "OS1-128": np.linspace(-22.5, 22.5, 128),  # Ouster OS1-128, uniform 45 deg vertical FOV
}
AZIMUTH_STEP_DEG: dict[str, float] = {"HDL-64E": 0.1728, "HDL-32E": 0.16, "VLP-32C": 0.2, "VLP-16": 0.2,
                                      "OS1-128": 360.0 / 1024}
MAX_RANGE: dict[str, float] = {"HDL-64E": 120.0, "HDL-32E": 100.0, "VLP-32C": 200.0, "VLP-16": 100.0,
                               "OS1-128": 120.0}


@dataclass(frozen=True, eq=False)
class LidarModel:
    """A spinning LiDAR's beam pattern and error model.

    Attributes:
        name: sensor name (a key of :data:`ELEVATION_TABLES` for the built-ins).
        elevations_deg: (R,) beam elevations in degrees, ascending; ring r is row r.
        azimuth_step_deg: horizontal angle between firings.
        azimuth_range_deg: (start, stop) of the swept azimuth, degrees (default: full turn).
        min_range, max_range: metres.
        range_noise_std: metres (Gaussian along the beam).
        dropout, dark_dropout, grazing_dropout: dropout model terms (see module docstring).
        intensity_noise_std: absolute noise on intensity.
    """

    name: str
    elevations_deg: np.ndarray
    azimuth_step_deg: float
    azimuth_range_deg: tuple[float, float] = (-180.0, 180.0)
    min_range: float = 0.9
    max_range: float = 120.0
    range_noise_std: float = 0.02
    dropout: float = 0.02
    dark_dropout: float = 0.15
    grazing_dropout: float = 0.3
    intensity_noise_std: float = 0.02
    _directions: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        elevations = np.asarray(self.elevations_deg, dtype=np.float64).reshape(-1)
        if elevations.size == 0 or not np.all(np.isfinite(elevations)) or np.any(np.diff(elevations) <= 0):
            raise BadInputError("LidarModel.elevations_deg", "must be a non-empty, strictly ascending list of degrees")
        if not self.azimuth_step_deg > 0:
            raise BadInputError("LidarModel.azimuth_step_deg", f"must be positive, got {self.azimuth_step_deg}")
        if not 0 <= self.min_range < self.max_range:
            raise BadInputError("LidarModel.min_range/max_range", f"need 0 <= min < max, got {self.min_range}, "
                                                                  f"{self.max_range}")
        elevations.setflags(write=False)
        object.__setattr__(self, "elevations_deg", elevations)
        object.__setattr__(self, "_directions", self._beam_directions())

    @classmethod
    def builtin(cls, name: str, **overrides) -> LidarModel:
        """One of the built-in sensors (``HDL-64E``, ``HDL-32E``, ``VLP-32C``, ``VLP-16``, ``OS1-128``)."""
        if name not in ELEVATION_TABLES:
            raise BadInputError("lidar.model", f"unknown LiDAR '{name}'; built-ins: {', '.join(ELEVATION_TABLES)}")
        return cls(name=name, elevations_deg=ELEVATION_TABLES[name], azimuth_step_deg=AZIMUTH_STEP_DEG[name],
                   max_range=MAX_RANGE[name], **overrides)

    @property
    def azimuths_deg(self) -> np.ndarray:
        """(C,) firing azimuths in degrees."""
        start, stop = self.azimuth_range_deg
        return start + self.azimuth_step_deg * np.arange(int(np.floor((stop - start) / self.azimuth_step_deg)))

    @property
    def num_rings(self) -> int:
        return int(self.elevations_deg.size)

    def beam_directions(self) -> tuple[np.ndarray, np.ndarray]:
        """``(directions (C*R, 3) float64 unit vectors, ring (C*R,) int)``, column-major."""
        return self._directions, np.tile(np.arange(self.num_rings), self.azimuths_deg.size)

    def _beam_directions(self) -> np.ndarray:
        directions = spherical_directions(self.azimuths_deg, self.elevations_deg)
        directions.setflags(write=False)
        return directions


@dataclass(frozen=True)
class LidarScan:
    """One simulated sweep.

    Attributes:
        points: (N, 5) float32 ``x, y, z, intensity, ring`` in the LiDAR frame.
        labels: (N,) uint16 class id of the surface each point came from.
        T_world_lidar: (4, 4) pose of the LiDAR when the sweep was cast.
    """

    points: np.ndarray
    labels: np.ndarray
    T_world_lidar: np.ndarray


def cast_sweep(scene: o3d.t.geometry.RaycastingScene, model: LidarModel, T_scene_lidar: np.ndarray,
               reflectivity: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Cast one sweep against any ray-casting scene and apply the sensor model.

    Args:
        scene: the scene; its coordinates define the "scene" frame.
        model: beam pattern and error model.
        T_scene_lidar: (4, 4) LiDAR pose in the scene frame.
        reflectivity: (G,) LiDAR reflectivity of each geometry id of the scene.
        rng: noise source; None gives a noise-free, dropout-free sweep (intensity still
            modelled).

    Returns:
        ``(points, geometry)``: (N, 5) float32 x, y, z, intensity, ring in the LiDAR frame
        and (N,) int64 geometry id of each return.
    """
    directions, ring = model.beam_directions()
    scene_directions = directions @ T_scene_lidar[:3, :3].T
    hits = cast_rays(scene, T_scene_lidar[:3, 3], scene_directions)
    distance = hits.distance.astype(np.float64)
    keep = hits.hit & (distance >= model.min_range) & (distance <= model.max_range)
    index = np.flatnonzero(keep)
    geometry = hits.geometry[index]
    cos_incidence = np.abs(np.einsum("ij,ij->i", hits.normal[index], scene_directions[index]))
    surface_reflectivity = reflectivity[geometry]
    intensity = surface_reflectivity * cos_incidence
    ranges = distance[index]
    if rng is not None:
        ranges = ranges + rng.normal(0.0, model.range_noise_std, ranges.size)
        p_drop = (model.dropout + model.dark_dropout * (1 - surface_reflectivity)
                  + model.grazing_dropout * (1 - cos_incidence) ** 2)
        survive = (rng.random(ranges.size) >= p_drop) & (ranges >= model.min_range) & (ranges <= model.max_range)
        intensity = intensity + rng.normal(0.0, model.intensity_noise_std, ranges.size)
        index, ranges, intensity, geometry = index[survive], ranges[survive], intensity[survive], geometry[survive]
    points = np.empty((index.size, 5), dtype=np.float32)
    points[:, :3] = directions[index] * ranges[:, None]
    points[:, 3] = np.clip(intensity, 0.0, 1.0)
    points[:, 4] = ring[index]
    return points, geometry


def scan_lidar(snapshot: WorldSnapshot, model: LidarModel, T_world_lidar: np.ndarray,
               rng: np.random.Generator | None = None) -> LidarScan:
    """Cast one LiDAR sweep against the world (see :func:`cast_sweep`)."""
    points, geometry = cast_sweep(snapshot.scene, model, T_world_lidar, snapshot.reflectivity, rng)
    return LidarScan(points=points, labels=snapshot.class_id[geometry], T_world_lidar=T_world_lidar)
