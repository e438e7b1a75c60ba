"""Automotive radar simulation with nuScenes-like sparse returns.

Radar frame: REP 103 (x forward, y left, z up). Output of :func:`scan_radar`: an
(N, 8) float32 array with the columns of :data:`RADAR_FIELDS`:

* ``x, y, z``: metres; ``z`` is 0 (the radar plane), as radars measure no reliable
  elevation;
* ``rcs``: radar cross-section in dBsm;
* ``vx, vy``: radial velocity of the target relative to the sensor, as a vector along
  the line of sight (m/s), like nuScenes' ``vx, vy``;
* ``vx_comp, vy_comp``: the same, compensated for ego motion (the target's own radial
  velocity), like nuScenes' ``vx_comp, vy_comp``.

How returns are made:

1. a fan of rays (``azimuth_step_deg`` x ``elevation_rows`` within ±``elevation_fov_deg/2``)
   is cast; hits on ground classes are dropped (ground-clutter filter);
2. hits are grouped by object; an object's RCS is its radar gain times its visible area
   (hits x ray footprint), with log-normal fluctuation; it is detected when the radar
   equation's SNR ``rcs_dB - 40 log10(r / reference_range)`` plus noise is positive;
3. a detected object yields 1 + Poisson(log2(1 + rcs)) returns at random hits of it
   (capped), with range, azimuth and velocity noise;
4. ghosts: a fraction of returns is repeated by multipath at a longer range (same
   azimuth and velocity, lower RCS), plus uniform clutter returns;
5. at most ``max_returns`` strongest returns are kept (nuScenes sweeps hold ~125).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_completion_ros.sim.raycast import spherical_directions
from depth_completion_ros.sim.world import WorldSnapshot

RADAR_FIELDS = ("x", "y", "z", "rcs", "vx", "vy", "vx_comp", "vy_comp")


@dataclass(frozen=True)
class RadarModel:
    """A front radar's field of view, detection and error model (defaults: nuScenes ARS408-like)."""

    azimuth_fov_deg: float = 120.0
    azimuth_step_deg: float = 0.5
    elevation_fov_deg: float = 10.0
    elevation_rows: int = 5
    min_range: float = 0.5
    max_range: float = 200.0
    reference_range: float = 80.0  # a 10 dBsm target fades into noise at ~1.8x this range
    range_noise_std: float = 0.15
    azimuth_noise_std_deg: float = 0.4
    velocity_noise_std: float = 0.1
    rcs_noise_std_db: float = 2.0
    max_returns_per_object: int = 6
    ghost_fraction: float = 0.08
    clutter_per_scan: float = 4.0
    max_returns: int = 125

    def ray_directions(self) -> np.ndarray:
        """(M, 3) unit ray directions in the radar frame."""
        half = self.azimuth_fov_deg / 2
        elevation = self.elevation_fov_deg / 2
        return spherical_directions(np.arange(-half, half + 1e-9, self.azimuth_step_deg),
                                    np.linspace(-elevation, elevation, self.elevation_rows))


@dataclass(frozen=True)
class RadarScan:
    """One radar sweep.

    Attributes:
        points: (N, 8) float32, columns :data:`RADAR_FIELDS`, radar frame.
        is_ghost: (N,) bool, True for multipath ghosts and clutter (ground truth only).
        object_index: (N,) int64 world object each real return came from (-1 for ghosts).
        T_world_radar: (4, 4) pose of the radar at the sweep.
    """

    points: np.ndarray
    is_ghost: np.ndarray
    object_index: np.ndarray
    T_world_radar: np.ndarray


def _radial(velocity: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """(N, 2) the horizontal radial component ``(v . u) u`` of (N, 3) velocities."""
    radial_speed = np.einsum("ij,ij->i", velocity, unit)
    return radial_speed[:, None] * unit[:, :2]


def scan_radar(snapshot: WorldSnapshot, model: RadarModel, T_world_radar: np.ndarray, ego_velocity: np.ndarray,
               ground_classes: frozenset, rng: np.random.Generator) -> RadarScan:
    """Simulate one radar sweep.

    Args:
        snapshot: the world at the sweep time.
        T_world_radar: (4, 4) radar pose.
        ego_velocity: (3,) world-frame velocity of the radar, m/s.
        ground_classes: class ids removed as ground clutter.
        rng: noise source.
    """
    directions = model.ray_directions()
    R = T_world_radar[:3, :3]
    hits = snapshot.cast(T_world_radar[:3, 3], directions @ R.T)
    distance = hits.distance.astype(np.float64)
    usable = hits.hit & (distance >= model.min_range) & (distance <= model.max_range)
    usable[usable] &= ~np.isin(snapshot.class_id[hits.geometry[usable]], list(ground_classes))
    usable[usable] &= snapshot.radar_gain[hits.geometry[usable]] > 0
    ray_index = np.flatnonzero(usable)
    objects, hits_per_object = np.unique(hits.geometry[ray_index], return_counts=True)

    ray_area = np.radians(model.azimuth_step_deg) * np.radians(model.elevation_fov_deg / max(model.elevation_rows, 1))
    chosen_rays, chosen_rcs = [], []
    for obj, count in zip(objects, hits_per_object):
        rays = ray_index[hits.geometry[ray_index] == obj]
        r = float(np.median(distance[rays]))
        area = count * ray_area * r * r
        rcs_db = 10 * np.log10(max(snapshot.radar_gain[obj] * area, 1e-6)) + rng.normal(0, model.rcs_noise_std_db)
        snr_db = rcs_db - 40 * np.log10(max(r, 1e-3) / model.reference_range) + rng.normal(0, 3.0)
        if snr_db <= 0:
            continue
        n = min(rays.size, model.max_returns_per_object, 1 + rng.poisson(np.log2(1 + 10 ** (rcs_db / 10))))
        chosen_rays.append(rng.choice(rays, size=n, replace=False))
        chosen_rcs.append(rcs_db + rng.normal(0, 1.0, n))
    ray_sel = np.concatenate(chosen_rays) if chosen_rays else np.zeros(0, dtype=np.int64)
    rcs = np.concatenate(chosen_rcs) if chosen_rcs else np.zeros(0)
    geometry = hits.geometry[ray_sel]

    unit = directions[ray_sel] / np.linalg.norm(directions[ray_sel, :2], axis=1, keepdims=True)
    unit[:, 2] = 0  # the radar measures in its plane
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    target_velocity = snapshot.velocity[geometry] @ R  # world -> radar frame
    relative = target_velocity - ego_velocity @ R
    ranges = distance[ray_sel] * np.linalg.norm(directions[ray_sel, :2], axis=1)  # horizontal range
    azimuth = np.arctan2(unit[:, 1], unit[:, 0])
    radial, radial_comp = _radial(relative, unit), _radial(target_velocity, unit)
    real = _returns(model, rng, ranges, azimuth, radial, radial_comp, rcs)

    ghost = rng.random(ray_sel.size) < model.ghost_fraction  # multipath: longer path, same bearing, weaker
    n_ghosts = int(ghost.sum())
    ghosts = _returns(model, rng, ranges[ghost] + rng.uniform(1.0, 15.0, n_ghosts), azimuth[ghost], radial[ghost],
                      radial_comp[ghost], rcs[ghost] - rng.uniform(6, 15, n_ghosts))
    n_clutter = rng.poisson(model.clutter_per_scan)
    clutter_azimuth = np.radians(rng.uniform(-model.azimuth_fov_deg / 2, model.azimuth_fov_deg / 2, n_clutter))
    clutter_unit = np.column_stack([np.cos(clutter_azimuth), np.sin(clutter_azimuth), np.zeros(n_clutter)])
    clutter = _returns(model, rng, rng.uniform(2.0, model.max_range / 2, n_clutter), clutter_azimuth,
                       _radial(np.broadcast_to(-ego_velocity @ R, (n_clutter, 3)), clutter_unit),
                       np.zeros((n_clutter, 2)), rng.uniform(-10, 0, n_clutter))

    points = np.concatenate([real, ghosts, clutter]).astype(np.float32)
    is_ghost = np.concatenate([np.zeros(len(real), bool), np.ones(len(ghosts) + len(clutter), bool)])
    object_index = np.concatenate([geometry, np.full(len(ghosts) + len(clutter), -1)])
    if points.shape[0] > model.max_returns:
        strongest = np.sort(np.argsort(-points[:, 3], kind="stable")[: model.max_returns])
        points, is_ghost, object_index = points[strongest], is_ghost[strongest], object_index[strongest]
    return RadarScan(points=points, is_ghost=is_ghost, object_index=object_index, T_world_radar=T_world_radar)


def _returns(model: RadarModel, rng: np.random.Generator, ranges: np.ndarray, azimuth: np.ndarray,
             radial: np.ndarray, radial_comp: np.ndarray, rcs: np.ndarray) -> np.ndarray:
    """(N, 8) returns with range, azimuth and velocity noise, in the radar plane."""
    n = ranges.size
    r = ranges + rng.normal(0, model.range_noise_std, n)
    a = azimuth + np.radians(rng.normal(0, model.azimuth_noise_std_deg, n))
    velocity_noise = rng.normal(0, model.velocity_noise_std, n)[:, None] * np.column_stack([np.cos(a), np.sin(a)])
    return np.column_stack([r * np.cos(a), r * np.sin(a), np.zeros(n), rcs, radial + velocity_noise,
                            radial_comp + velocity_noise])
