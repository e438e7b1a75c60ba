"""The one ray-casting entry point of the simulator: open3d's Embree ``RaycastingScene``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d


@dataclass(frozen=True)
class RayHits:
    """First hits of N rays.

    Attributes:
        distance: (N,) float32 ray parameter of the hit, in units of the direction's length
            (metres for unit directions); ``inf`` for a miss.
        geometry: (N,) int64 index of the hit mesh (order of ``add_triangles``), -1 for a miss.
        normal: (N, 3) float32 unit face normal, turned to face the ray origin (0 for a miss).
    """

    distance: np.ndarray
    geometry: np.ndarray
    normal: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        """(N,) bool, True where the ray hit something."""
        return self.geometry >= 0


def build_scene(meshes: list[tuple[np.ndarray, np.ndarray]]) -> o3d.t.geometry.RaycastingScene:
    """A scene of triangle meshes; mesh i gets geometry id i.

    Args:
        meshes: ``(vertices (V, 3) metres, triangles (T, 3) int)`` pairs.
    """
    scene = o3d.t.geometry.RaycastingScene()
    for vertices, triangles in meshes:
        scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)),
        )
    return scene


def cast_rays(scene: o3d.t.geometry.RaycastingScene, origins: np.ndarray, directions: np.ndarray) -> RayHits:
    """Cast rays and return their first hits.

    Args:
        origins: (N, 3) or (3,) metres (broadcast).
        directions: (N, 3); their length sets the unit of ``RayHits.distance``.
    """
    directions = np.asarray(directions, dtype=np.float32).reshape(-1, 3)
    rays = np.empty((directions.shape[0], 6), dtype=np.float32)
    rays[:, :3] = origins
    rays[:, 3:] = directions
    result = scene.cast_rays(o3d.core.Tensor(rays))
    distance = result["t_hit"].numpy()
    geometry = result["geometry_ids"].numpy().astype(np.int64)
    hit = np.isfinite(distance)
    geometry[~hit] = -1
    normal = result["primitive_normals"].numpy()
    facing_away = np.einsum("ij,ij->i", normal, directions) > 0
    normal[facing_away] *= -1
    normal[~hit] = 0
    return RayHits(distance=distance, geometry=geometry, normal=normal)


def spherical_directions(azimuths_deg: np.ndarray, elevations_deg: np.ndarray) -> np.ndarray:
    """Unit ray directions of a scanning sensor (REP 103: x forward, y left, z up).

    Args:
        azimuths_deg: (C,) azimuths, counter-clockwise from x.
        elevations_deg: (R,) elevations above the xy plane.

    Returns:
        (C*R, 3) float64, column-major: all elevations of the first azimuth come first.
    """
    azimuth = np.radians(np.asarray(azimuths_deg, dtype=np.float64))[:, None]
    elevation = np.radians(np.asarray(elevations_deg, dtype=np.float64))[None, :]
    cos_elevation = np.cos(elevation)
    directions = np.stack(np.broadcast_arrays(cos_elevation * np.cos(azimuth), cos_elevation * np.sin(azimuth),
                                              np.sin(elevation)), axis=-1)
    return directions.reshape(-1, 3)
