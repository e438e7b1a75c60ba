"""Pre-generated training frames (DMD3C stage 1 data) stored as ``.npz`` files.

Simulating a KITTI-sized frame costs ~0.3-0.7 s, far more than a training step, so the
frames are generated once (:func:`build_cache`, ``dcr train cache``) and training reads
the cache (one :class:`~depth_completion_ros.datasets.cached_frame.CachedFrame` file per frame).

The LiDAR of every simulator frame is a random beam pattern (32-128 rings, random
elevation span and azimuth step, random mounting offset and dropout), cast against the
simulated world, so the input pattern is never the same and parallax is real. RGB-D
frames go through :func:`~depth_completion_ros.sim.lidar_from_depth.lidar_from_depth`
with the same kind of random pattern. Training then picks a subset of the rings as
input (and, in stage 2, the other rings as sparse supervision).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.cached_frame import CachedFrame
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import project_to_pixels
from depth_completion_ros.geometry.transforms import (
    compose,
    invert_transform,
    make_transform,
    rotation_from_rpy,
    transform_points,
)
from depth_completion_ros.models.completion_net import MASK_CLASSES
from depth_completion_ros.sim.labels import SEMANTIC_KITTI_LEARNING_MAP
from depth_completion_ros.sim.lidar import LidarModel, scan_lidar
from depth_completion_ros.sim.lidar_from_depth import default_lidar_pose, lidar_from_depth
from depth_completion_ros.sim.rig import load_rig
from depth_completion_ros.sim.simulator import Simulator
from depth_completion_ros.sim.world import generate_world


def random_lidar(rng: np.random.Generator, min_rings: int = 32, max_rings: int = 128) -> LidarModel:
    """A random spinning LiDAR: ring count, elevation span, azimuth step, noise, dropout."""
    rings = int(rng.integers(min_rings, max_rings + 1))
    bottom, top = rng.uniform(-28.0, -12.0), rng.uniform(-1.0, 8.0)
    elevations = np.linspace(bottom, top, rings) + rng.normal(0.0, 0.02 * (top - bottom) / rings, rings)
    return LidarModel(name=f"random-{rings}", elevations_deg=np.sort(elevations),
                      azimuth_step_deg=float(rng.uniform(0.08, 0.3)), min_range=0.5, max_range=120.0,
                      range_noise_std=float(rng.uniform(0.005, 0.03)), dropout=float(rng.uniform(0.0, 0.15)))


def random_mount(rng: np.random.Generator, max_shift: tuple[float, float, float] = (0.3, 0.3, 0.2),
                 max_tilt_deg: float = 2.0) -> np.ndarray:
    """(4, 4) random perturbation of a LiDAR mount: a shift (metres) and small tilts."""
    roll, pitch, yaw = np.radians(rng.uniform(-max_tilt_deg, max_tilt_deg, 3))
    return make_transform(rotation_from_rpy(roll, pitch, yaw), rng.uniform(-1, 1, 3) * np.asarray(max_shift))


def mask_classes_from_semantic_kitti(raw_ids: np.ndarray) -> np.ndarray:
    """(H, W) raw SemanticKITTI ids -> (H, W) uint8 :data:`~.completion_net.MASK_CLASSES` index."""
    learning_to_mask = np.zeros(20, np.uint8)
    for group, ids in {"ground": (9, 10, 11, 12, 17), "vehicle": (1, 2, 3, 4, 5), "human": (6, 7, 8),
                       "structure": (13, 14, 16, 18, 19), "vegetation": (15,)}.items():
        learning_to_mask[list(ids)] = MASK_CLASSES.index(group)
    raw_to_learning = np.zeros(max(SEMANTIC_KITTI_LEARNING_MAP) + 1, np.int64)
    for raw, learning in SEMANTIC_KITTI_LEARNING_MAP.items():
        raw_to_learning[raw] = learning
    ids = np.clip(raw_ids.astype(np.int64), 0, raw_to_learning.size - 1)
    return learning_to_mask[raw_to_learning[ids]]


def _in_view(points_camera: np.ndarray, ring: np.ndarray, camera: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    hits = project_to_pixels(points_camera, camera)
    return points_camera[hits.point_index].astype(np.float32), ring[hits.point_index]


def simulated_frame(seed: int, index: int, rig: str = "kitti", indoor_fraction: float = 0.25,
                    duration: float = 10.0, random_lidar_pattern: bool = True, radar: bool = False,
                    camera_scale: float = 1.0) -> CachedFrame:
    """Frame ``index`` of the simulator stream ``seed`` (a random world and time).

    The LiDAR is a random pattern on a randomly shifted mount, or with
    ``random_lidar_pattern=False`` the rig's own LiDAR where the rig mounts it (for
    evaluation sets that mimic one real sensor). ``radar`` adds the rig radar's sweep and
    the semantic mask; ``camera_scale`` renders the camera at that fraction of its size.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    scene = "indoor" if rng.random() < indoor_fraction else "street"
    world_seed = int(rng.integers(2**31))
    sensors = load_rig(rig)
    if camera_scale != 1.0:
        cam = sensors.camera
        size = round(cam.width * camera_scale), round(cam.height * camera_scale)
        sensors = replace(sensors, camera=cam.resized(*size))
    simulator = Simulator(generate_world(scene, world_seed, duration), sensors, world_seed)
    time = float(rng.uniform(0.0, duration))
    image = simulator.camera_image(time)
    if random_lidar_pattern:
        T_world_lidar = compose(simulator.pose("lidar", time), random_mount(rng))
        scan = scan_lidar(simulator.snapshot(time), random_lidar(rng), T_world_lidar, rng)
    else:
        T_world_lidar = simulator.pose("lidar", time)
        scan = scan_lidar(simulator.snapshot(time), simulator.rig.lidar, T_world_lidar, rng)
    T_camera_lidar = compose(invert_transform(simulator.pose("camera", time)), T_world_lidar)
    points = transform_points(T_camera_lidar, scan.points[:, :3].astype(np.float64))
    camera = simulator.rig.camera
    points, ring = _in_view(points, scan.points[:, 4].astype(np.int64), camera)
    depth = np.where(np.isfinite(image.depth), image.depth, 0).astype(np.float32)
    radar_points = semantic = None
    if radar:
        scan = simulator.radar_scan(time)
        T_camera_radar = compose(invert_transform(simulator.pose("camera", time)), simulator.pose("radar", time))
        radar_points = np.concatenate([transform_points(T_camera_radar, scan.points[:, :3].astype(np.float64)),
                                       scan.points[:, [3, 6, 7]]], axis=1).astype(np.float32)  # rcs, vx/vy_comp
        semantic = mask_classes_from_semantic_kitti(image.semantic)
    return CachedFrame(image.rgb, depth, camera, points, ring, f"sim-{scene}", radar_points, semantic)


def rgbd_frame(rgb: np.ndarray, depth: np.ndarray, camera: CameraModel, rng: np.random.Generator) -> CachedFrame:
    """An RGB-D frame with a random LiDAR simulated from its depth (DMD3C stage 1)."""
    T_camera_lidar = compose(default_lidar_pose(), random_mount(rng, (0.1, 0.1, 0.1)))
    lidar = random_lidar(rng)
    # An RGB-D camera sees ~45 deg vertically: centre the random span on the image.
    lidar = LidarModel(name=lidar.name, elevations_deg=np.linspace(-25.0, 25.0, lidar.num_rings),
                       azimuth_step_deg=lidar.azimuth_step_deg, azimuth_range_deg=(-45.0, 45.0), min_range=0.1,
                       range_noise_std=0.005, dropout=lidar.dropout)
    scan = lidar_from_depth(depth, camera, lidar, T_camera_lidar, rng=rng)
    points = transform_points(T_camera_lidar, scan.points[:, :3].astype(np.float64))
    points, ring = _in_view(points, scan.points[:, 4].astype(np.int64), camera)
    return CachedFrame(rgb, depth.astype(np.float32), camera, points, ring, "rgbd")


def build_cache(out_dir: str | Path, frames: int, seed: int, rgbd: list[tuple[np.ndarray, np.ndarray, CameraModel]]
                = (), rgbd_variants: int = 8, rig: str = "kitti", indoor_fraction: float = 0.25,
                random_lidar_pattern: bool = True, radar: bool = False, camera_scale: float = 1.0,
                kitti_raw: tuple[Path, str] | None = None) -> Iterator[Path]:
    """Write ``frames`` simulator frames, ``rgbd_variants`` LiDAR variants of each RGB-D frame
    and, with ``kitti_raw = (drive folder, split)``, the real KITTI raw frames of that split
    (:func:`~depth_completion_ros.datasets.kitti_raw.cached_frame`).

    Existing files are kept, so an interrupted build resumes. Yields each path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        path = out / f"sim_{seed}_{index:05d}.npz"
        if not path.exists():
            simulated_frame(seed, index, rig, indoor_fraction, random_lidar_pattern=random_lidar_pattern, radar=radar,
                            camera_scale=camera_scale).save(path)
        yield path
    for number, (rgb, depth, camera) in enumerate(rgbd):
        for variant in range(rgbd_variants):
            path = out / f"rgbd_{number:02d}_{variant:02d}.npz"
            if not path.exists():
                rng = np.random.default_rng([seed, number, variant])
                rgbd_frame(rgb, depth, camera, rng).save(path)
            yield path
    if kitti_raw is not None:
        from depth_completion_ros.datasets.kitti_raw import cached_frame, frame_stems

        root, split = kitti_raw
        for stem in frame_stems(root, split):
            path = out / f"kitti_raw_{stem}.npz"
            if not path.exists():
                cached_frame(root, stem).save(path)
            yield path
