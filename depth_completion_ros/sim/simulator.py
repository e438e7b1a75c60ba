"""The simulator: a world plus a rig, rendered at any time into a :class:`SimulatedFrame`.

Usage::

    from depth_completion_ros.sim import Simulator
    sim = Simulator.create(scene="street", rig="kitti", seed=7, duration=10.0)
    frame = sim.frame(time=1.25)
    frame.rgb, frame.depth, frame.disparity, frame.lidar_points, frame.radar_points
    frame.occupancy.labels, frame.occupancy.invalid, frame.camera, frame.T_camera_lidar

Each sensor's noise is drawn from a generator seeded by ``(seed, sensor, time in µs)``,
so a frame does not depend on what was rendered before it: the same seed gives
bit-identical arrays and sensors can be rendered at their own rates
(:meth:`Simulator.sensor_stamps`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.transforms import compose, invert_transform
from depth_completion_ros.geometry.voxels import OccupancyGroundTruth
from depth_completion_ros.sim.camera import CameraImage, disparity_from_depth, render_camera
from depth_completion_ros.sim.lidar import LidarScan, scan_lidar
from depth_completion_ros.sim.occupancy import occupancy_ground_truth
from depth_completion_ros.sim.radar import RadarScan, scan_radar
from depth_completion_ros.sim.rig import Rig, load_rig
from depth_completion_ros.sim.world import World, WorldSnapshot, generate_world

SENSORS = ("camera", "right_camera", "lidar", "radar")
OPTIONAL_OUTPUTS = frozenset({"stereo", "lidar", "radar", "occupancy"})


@dataclass(frozen=True, eq=False)
class SimulatedFrame:
    """All sensors and ground truth at one time.

    Attributes:
        stamp: seconds since the start of the sequence.
        rgb: (H, W, 3) uint8 left image.
        depth: (H, W) float32 left z-depth ground truth, metres, 0 = none (sky).
        semantic: (H, W) uint16 class ids (SemanticKITTI raw ids outdoors, see
            :mod:`.labels`); instance: (H, W) int32 object index + 1.
        right_rgb: (H, W, 3) uint8 rectified right image, or None.
        disparity: (H, W) float32 left disparity ground truth ``f B / z`` px, or None.
        lidar: :class:`LidarScan` (``points`` (N, 5) x, y, z, intensity, ring, LiDAR frame), or None.
        radar: :class:`RadarScan` (``points`` (M, 8), radar frame), or None.
        occupancy: :class:`OccupancyGroundTruth` in the LiDAR frame, or None.
        camera, right_camera: the camera models (the right one projects LEFT-frame points).
        extrinsics: ``{sensor: T_base_sensor}`` (4, 4) for camera, right_camera, lidar, radar.
        frame_ids: ROS frame names (see :class:`~.rig.Rig`).
        T_world_base: (4, 4) ego pose at ``stamp``.
    """

    stamp: float
    rgb: np.ndarray
    depth: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    right_rgb: np.ndarray | None
    disparity: np.ndarray | None
    lidar: LidarScan | None
    radar: RadarScan | None
    occupancy: OccupancyGroundTruth | None
    camera: CameraModel
    right_camera: CameraModel
    extrinsics: dict[str, np.ndarray]
    frame_ids: dict[str, str]
    T_world_base: np.ndarray

    @property
    def lidar_points(self) -> np.ndarray | None:
        """(N, 5) float32 x, y, z, intensity, ring in the LiDAR frame, or None."""
        return None if self.lidar is None else self.lidar.points

    @property
    def radar_points(self) -> np.ndarray | None:
        """(M, 8) float32 :data:`~.radar.RADAR_FIELDS` in the radar frame, or None."""
        return None if self.radar is None else self.radar.points

    @property
    def T_camera_lidar(self) -> np.ndarray:
        """(4, 4) left camera optical frame <- LiDAR frame."""
        return compose(invert_transform(self.extrinsics["camera"]), self.extrinsics["lidar"])


class Simulator:
    """Renders a world through a rig. Stateless apart from a one-entry snapshot cache."""

    def __init__(self, world: World, rig: Rig, seed: int = 0) -> None:
        self.world = world
        self.rig = rig
        self.seed = int(seed)
        self._snapshot: WorldSnapshot | None = None

    @classmethod
    def create(cls, scene: str = "street", rig: str | Path | Mapping | Rig = "kitti", seed: int = 0,
               duration: float = 10.0) -> Simulator:
        """A simulator of a generated ``scene`` for ``rig`` (name, YAML path, dict or Rig)."""
        rig = rig if isinstance(rig, Rig) else load_rig(rig)
        return cls(generate_world(scene, seed, duration), rig, seed)

    def snapshot(self, time: float) -> WorldSnapshot:
        """The world at ``time`` (the last one is cached; sensors at one stamp share it)."""
        if self._snapshot is None or self._snapshot.time != time:
            self._snapshot = self.world.snapshot(time)
        return self._snapshot

    def rng(self, sensor: str, time: float) -> np.random.Generator:
        """The noise generator of one sensor reading, from ``(seed, sensor, time in µs)``."""
        return np.random.default_rng([self.seed, SENSORS.index(sensor), int(round(time * 1e6))])

    def pose(self, sensor: str, time: float) -> np.ndarray:
        """(4, 4) ``T_world_sensor`` at ``time``; ``base`` is the ego pose."""
        T_world_base = self.world.trajectory.T_world_base(time)
        return T_world_base if sensor == "base" else compose(T_world_base, self.rig.extrinsics()[sensor])

    def camera_image(self, time: float, right: bool = False) -> CameraImage:
        """Left (or rectified right) camera image at ``time``."""
        camera = self.rig.right_camera if right else self.rig.camera
        return render_camera(self.snapshot(time), self.world, camera, self.pose("camera", time),
                             self.rig.appearance, self.rng("right_camera" if right else "camera", time))

    def lidar_scan(self, time: float, noise: bool = True) -> LidarScan:
        return scan_lidar(self.snapshot(time), self.rig.lidar, self.pose("lidar", time),
                          self.rng("lidar", time) if noise else None)

    def radar_scan(self, time: float) -> RadarScan:
        return scan_radar(self.snapshot(time), self.rig.radar, self.pose("radar", time),
                          self.world.trajectory.velocity, self.world.ground_classes, self.rng("radar", time))

    def occupancy(self, time: float) -> OccupancyGroundTruth:
        T_world_lidar = self.pose("lidar", time)
        return occupancy_ground_truth(self.snapshot(time), self.rig.occupancy_grid, T_world_lidar, self.rig.lidar,
                                      T_world_lidar, self.rig.camera, self.pose("camera", time))

    def frame(self, time: float, outputs: Collection[str] = OPTIONAL_OUTPUTS) -> SimulatedFrame:
        """Every sensor at one time.

        Args:
            time: seconds since the start.
            outputs: which of ``stereo``, ``lidar``, ``radar``, ``occupancy`` to render
                (the left camera always is); the others are None.
        """
        unknown = set(outputs) - OPTIONAL_OUTPUTS
        if unknown:
            raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {sorted(OPTIONAL_OUTPUTS)}")
        left = self.camera_image(time)
        right = self.camera_image(time, right=True) if "stereo" in outputs else None
        return SimulatedFrame(
            stamp=time,
            rgb=left.rgb,
            depth=left.depth,
            semantic=left.semantic,
            instance=left.instance,
            right_rgb=None if right is None else right.rgb,
            disparity=None if right is None else disparity_from_depth(left.depth, self.rig.right_camera),
            lidar=self.lidar_scan(time) if "lidar" in outputs else None,
            radar=self.radar_scan(time) if "radar" in outputs else None,
            occupancy=self.occupancy(time) if "occupancy" in outputs else None,
            camera=self.rig.camera,
            right_camera=self.rig.right_camera,
            extrinsics=self.rig.extrinsics(),
            frame_ids=dict(self.rig.frame_ids),
            T_world_base=self.pose("base", time),
        )

    def sensor_stamps(self, duration: float) -> dict[str, np.ndarray]:
        """Per-sensor timestamps in ``[0, duration)`` at the rig's rates with Gaussian jitter.

        Returns:
            ``{"camera", "lidar", "radar"}`` -> sorted (K,) float64 seconds; sensor k fires at
            ``k / rate + jitter`` (jitter clipped to a quarter period, never below 0).
        """
        stamps = {}
        for i, (sensor, timing) in enumerate(sorted(self.rig.timing.items())):
            period = 1.0 / timing.rate_hz
            nominal = np.arange(int(np.ceil(duration * timing.rate_hz - 1e-9))) * period
            rng = np.random.default_rng([self.seed, 1000 + i])
            jitter = np.clip(rng.normal(0.0, timing.jitter_s, nominal.size), -period / 4, period / 4)
            stamps[sensor] = np.sort(np.maximum(nominal + jitter, 0.0))
        return stamps
