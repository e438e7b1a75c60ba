"""Procedural, seeded worlds: a street or a room, made of convex parts with a class each.

World frame: REP 103, x forward along the street, y left, z up, ground at z = 0.

* :class:`WorldObject` — one object: convex parts, a class id (:mod:`.labels`), a
  :class:`Material` (albedo, procedural texture, LiDAR reflectivity, radar gain) and a
  constant velocity (m/s, world frame). Parts move rigidly: at time t they are shifted
  by ``velocity * t``.
* :class:`World` — the objects, the ego trajectory, lighting and sky.
* :meth:`World.snapshot` — the world frozen at time t: an open3d ``RaycastingScene``
  (object i = geometry id i) plus per-object lookup arrays that the sensors gather
  from by geometry id.
* :func:`generate_world` — ``street`` or ``indoor``, deterministic for a seed.

Street scenes: road (with lane markings), sidewalks with curbs, terrain, buildings of
random height and setback, fences, parked and moving cars, poles with signs, trees,
pedestrians (some walking). Indoor scenes: a closed room (floor, walls, ceiling, a door)
with tables, chairs, shelves, sofas, beds, cabinets, clutter and people. Colours and
textures are random, sometimes shared between an object and what is behind it, so that
image edges and depth edges do not always coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import open3d as o3d

from depth_completion_ros.sim import labels
from depth_completion_ros.sim.labels import INDOOR_IDS
from depth_completion_ros.sim.meshes import ConvexPart, box, cylinder, ellipsoid
from depth_completion_ros.sim.raycast import RayHits, build_scene, cast_rays

SCENE_KINDS = ("street", "indoor")

# Procedural texture kinds (Material.texture).
PLAIN, CHECKER, STRIPES, NOISE = 0, 1, 2, 3


@dataclass(frozen=True)
class Material:
    """Appearance of an object for camera, LiDAR and radar.

    Attributes:
        albedo, albedo2: (3,) RGB in [0, 1]; the texture blends between them.
        texture: PLAIN, CHECKER, STRIPES (along world x) or NOISE (blocky value noise).
        texture_scale: texture frequency in cycles per metre.
        reflectivity: LiDAR reflectivity in [0, 1] (intensity and dropout).
        radar_gain: radar cross-section per square metre of visible area.
    """

    albedo: tuple[float, float, float]
    albedo2: tuple[float, float, float]
    texture: int = PLAIN
    texture_scale: float = 1.0
    reflectivity: float = 0.3
    radar_gain: float = 0.0


@dataclass(frozen=True, eq=False)
class WorldObject:
    """One object: convex parts (at t = 0), a class id, a material and a velocity."""

    parts: tuple[ConvexPart, ...]
    class_id: int
    material: Material
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def parts_at(self, time: float) -> tuple[ConvexPart, ...]:
        if not np.any(self.velocity):
            return self.parts
        return tuple(part.translated(self.velocity * time) for part in self.parts)

    def mesh_at(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """``(vertices (V, 3), triangles (T, 3))`` of all parts at ``time``."""
        parts = self.parts_at(time)
        offsets = np.cumsum([0] + [p.vertices.shape[0] for p in parts[:-1]])
        vertices = np.concatenate([p.vertices for p in parts])
        triangles = np.concatenate([p.triangles + o for p, o in zip(parts, offsets)])
        return vertices, triangles

    @cached_property
    def anchor(self) -> np.ndarray:
        """(3,) a point fixed to the object at t = 0, the origin of its texture coordinates."""
        return self.parts[0].vertices.min(axis=0)


@dataclass(frozen=True)
class EgoTrajectory:
    """Straight constant-velocity motion of the rig's ``base_link`` (on the ground).

    Attributes:
        start: (3,) position at t = 0, metres, world frame.
        yaw: heading in radians (about world z).
        speed: metres per second along the heading.
    """

    start: tuple[float, float, float]
    yaw: float
    speed: float

    @property
    def velocity(self) -> np.ndarray:
        """(3,) world-frame velocity, m/s."""
        return self.speed * np.array([np.cos(self.yaw), np.sin(self.yaw), 0.0])

    def T_world_base(self, time: float) -> np.ndarray:
        """(4, 4) pose of ``base_link`` in the world at ``time`` seconds."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        T = np.eye(4)
        T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        T[:3, 3] = np.asarray(self.start) + self.velocity * time
        return T


@dataclass(frozen=True, eq=False)
class WorldSnapshot:
    """The world frozen at one time, ready for ray casting.

    Per-object arrays are indexed by geometry id (= index in ``World.objects``).

    Attributes:
        time: seconds.
        scene: open3d RaycastingScene.
        class_id: (G,) uint16 semantic id.
        albedo, albedo2: (G, 3) float32; texture (G,) int8; texture_scale (G,) float32.
        texture_origin: (G, 3) float32 anchor of each texture at this time.
        reflectivity, radar_gain: (G,) float32.
        velocity: (G, 3) float64 m/s, world frame.
        parts: (object index, ConvexPart at this time) pairs, for voxelization.
    """

    time: float
    scene: o3d.t.geometry.RaycastingScene
    class_id: np.ndarray
    albedo: np.ndarray
    albedo2: np.ndarray
    texture: np.ndarray
    texture_scale: np.ndarray
    texture_origin: np.ndarray
    reflectivity: np.ndarray
    radar_gain: np.ndarray
    velocity: np.ndarray
    parts: tuple[tuple[int, ConvexPart], ...]

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> RayHits:
        """First hits of rays (see :func:`.raycast.cast_rays`)."""
        return cast_rays(self.scene, origins, directions)


@dataclass(frozen=True, eq=False)
class World:
    """A generated world.

    Attributes:
        kind: ``street`` or ``indoor``.
        objects: the objects; object i is geometry id i in every snapshot.
        trajectory: the ego rig's motion.
        sun_direction: (3,) unit vector towards the light, world frame.
        ambient: ambient light fraction in [0, 1].
        has_sky: True outdoors (rays that miss see sky).
        ground_classes: class ids a radar filters as ground clutter.
        seed: the generator's seed.
    """

    kind: str
    objects: tuple[WorldObject, ...]
    trajectory: EgoTrajectory
    sun_direction: np.ndarray
    ambient: float
    has_sky: bool
    ground_classes: frozenset
    seed: int = 0

    def snapshot(self, time: float) -> WorldSnapshot:
        """The world at ``time`` seconds (dynamic objects moved), with its ray-casting scene."""
        objects = self.objects
        materials = [o.material for o in objects]
        velocity = np.array([o.velocity for o in objects], dtype=np.float64).reshape(-1, 3)
        return WorldSnapshot(
            time=time,
            scene=build_scene([o.mesh_at(time) for o in objects]),
            class_id=np.array([o.class_id for o in objects], dtype=np.uint16),
            albedo=np.array([m.albedo for m in materials], dtype=np.float32),
            albedo2=np.array([m.albedo2 for m in materials], dtype=np.float32),
            texture=np.array([m.texture for m in materials], dtype=np.int8),
            texture_scale=np.array([m.texture_scale for m in materials], dtype=np.float32),
            texture_origin=(np.array([o.anchor for o in objects]) + velocity * time).astype(np.float32),
            reflectivity=np.array([m.reflectivity for m in materials], dtype=np.float32),
            radar_gain=np.array([m.radar_gain for m in materials], dtype=np.float32),
            velocity=velocity,
            parts=tuple((i, part) for i, o in enumerate(objects) for part in o.parts_at(time)),
        )


def generate_world(kind: str, seed: int, duration: float = 10.0) -> World:
    """A procedural world, identical for identical ``(kind, seed, duration)``.

    Args:
        kind: ``street`` or ``indoor``.
        seed: any non-negative integer.
        duration: seconds of ego motion the world must have room for.
    """
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind '{kind}'; choose one of {', '.join(SCENE_KINDS)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, SCENE_KINDS.index(kind)]))
    generator = _StreetBuilder(rng, duration) if kind == "street" else _RoomBuilder(rng, duration)
    return generator.build(seed)


# ---------------------------------------------------------------------------- helpers


def _grey(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, float, float]:
    g = rng.uniform(lo, hi)
    tint = rng.uniform(-0.03, 0.03, 3)
    return tuple(np.clip(g + tint, 0, 1).tolist())


def _colour(rng: np.random.Generator, lo: float = 0.1, hi: float = 0.9) -> tuple[float, float, float]:
    return tuple(rng.uniform(lo, hi, 3).tolist())


def _shade(colour, factor: float) -> tuple[float, float, float]:
    return tuple(np.clip(np.asarray(colour) * factor, 0, 1).tolist())


def _reflectivity(colour, boost: float = 0.0) -> float:
    """LiDAR reflectivity from the albedo's luminance (+ a retro-reflector boost)."""
    return float(np.clip(0.05 + 0.8 * float(np.dot(colour, [0.3, 0.59, 0.11])) + boost, 0.0, 1.0))


class _Builder:
    """Shared object bookkeeping of the two scene builders."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.objects: list[WorldObject] = []

    def add(self, parts, class_id: int, material: Material, velocity=(0.0, 0.0, 0.0)) -> None:
        parts = tuple(parts) if isinstance(parts, (list, tuple)) else (parts,)
        self.objects.append(WorldObject(parts, class_id, material, np.asarray(velocity, dtype=np.float64)))

    def material(self, colour, texture: int = PLAIN, scale: float = 1.0, radar_gain: float = 0.0,
                 contrast: float = 0.7, boost: float = 0.0) -> Material:
        return Material(
            albedo=tuple(colour),
            albedo2=_shade(colour, contrast),
            texture=texture,
            texture_scale=scale,
            reflectivity=_reflectivity(colour, boost),
            radar_gain=radar_gain,
        )

    def sun(self) -> np.ndarray:
        elevation = self.rng.uniform(np.radians(20), np.radians(70))
        azimuth = self.rng.uniform(-np.pi, np.pi)
        return np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])


class _StreetBuilder(_Builder):
    """A straight street along +x; the ego drives in the right lane (y < 0)."""

    def __init__(self, rng: np.random.Generator, duration: float) -> None:
        super().__init__(rng)
        self.ego_speed = rng.uniform(4.0, 12.0)
        self.x_start = -40.0
        self.x_end = 90.0 + self.ego_speed * duration
        self.half_road = rng.uniform(4.5, 7.0)
        self.sidewalk = rng.uniform(2.0, 4.0)
        self.curb = rng.uniform(0.1, 0.2)
        self.road_colour = _grey(rng, 0.2, 0.4)
        # right lane, keeping a car's width clear of the parked cars at +-(half_road - 1)
        self.ego_y = -min(self.half_road / 2, self.half_road - 2.95)

    def build(self, seed: int) -> World:
        self._ground()
        for side in (-1.0, 1.0):
            self._buildings(side)
            self._parked_cars(side)
            self._street_furniture(side)
            self._pedestrians(side)
        self._traffic()
        return World(
            kind="street",
            objects=tuple(self.objects),
            trajectory=EgoTrajectory(start=(0.0, self.ego_y, 0.0), yaw=0.0, speed=self.ego_speed),
            sun_direction=self.sun(),
            ambient=float(self.rng.uniform(0.3, 0.5)),
            has_sky=True,
            ground_classes=labels.GROUND_CLASSES,
            seed=seed,
        )

    def _ground(self) -> None:
        rng, x0, x1, w = self.rng, self.x_start, self.x_end, self.half_road
        self.add(box((x0, -w, -0.5), (x1, w, 0.0)), labels.ROAD,
                 self.material(self.road_colour, NOISE, 4.0, contrast=0.85))
        white = _grey(rng, 0.8, 0.95)
        dash, gap = rng.uniform(2.0, 4.0), rng.uniform(4.0, 8.0)
        for x in np.arange(x0, x1 - dash, dash + gap):  # centre line: an image edge, not a depth edge
            self.add(box((x, -0.07, 0.0), (x + dash, 0.07, 0.01)), labels.LANE_MARKING, self.material(white, boost=0.3))
        paving = _grey(rng, 0.45, 0.7)
        self.setback = rng.uniform(0.5, 6.0, size=2)
        terrain = (rng.uniform(0.2, 0.35), rng.uniform(0.3, 0.5), rng.uniform(0.1, 0.25))
        for i, side in enumerate((-1.0, 1.0)):
            inner, outer = w, w + self.sidewalk
            y_lo, y_hi = sorted((side * inner, side * outer))
            self.add(box((x0, y_lo, -0.5), (x1, y_hi, self.curb)), labels.SIDEWALK,
                     self.material(paving, CHECKER, rng.uniform(1.0, 3.0), contrast=0.8))
            y_lo, y_hi = sorted((side * outer, side * (outer + self.setback[i] + 30.0)))
            self.add(box((x0, y_lo, -0.5), (x1, y_hi, self.curb * 0.5)), labels.TERRAIN,
                     self.material(terrain, NOISE, rng.uniform(2.0, 6.0), contrast=0.6))

    def _facade(self) -> Material:
        rng = self.rng
        colour = _colour(rng, 0.25, 0.85)
        texture = int(rng.choice([PLAIN, CHECKER, STRIPES, NOISE]))
        return self.material(colour, texture, rng.uniform(0.2, 0.6), radar_gain=1.0, contrast=rng.uniform(0.4, 0.9))

    def _buildings(self, side: float) -> None:
        rng = self.rng
        front = self.half_road + self.sidewalk + self.setback[int(side > 0)]
        x = self.x_start
        while x < self.x_end:
            width = rng.uniform(8.0, 25.0)
            depth, height = rng.uniform(8.0, 15.0), rng.uniform(5.0, 20.0)
            inset = rng.uniform(0.0, 3.0)
            y_lo, y_hi = sorted((side * (front + inset), side * (front + inset + depth)))
            self.add(box((x, y_lo, -0.5), (x + width, y_hi, height)), labels.BUILDING, self._facade())
            gap = rng.uniform(0.0, 8.0) if rng.random() < 0.6 else 0.0
            if gap > 1.0 and rng.random() < 0.5:
                self._fence(side, x + width, gap, front)
            x += width + gap

    def _fence(self, side: float, x: float, length: float, front: float) -> None:
        rng = self.rng
        y = side * (front + 0.1)
        colour = _colour(rng, 0.2, 0.7)
        self.add(box((x, y - 0.03, 0.0), (x + length, y + 0.03, rng.uniform(1.0, 2.0))), labels.FENCE,
                 self.material(colour, STRIPES, rng.uniform(3.0, 8.0), radar_gain=3.0, contrast=0.3))

    def _car_parts(self, x: float, y: float, yaw: float, length: float) -> list[ConvexPart]:
        width = self.rng.uniform(1.6, 1.95)
        body = box((x - length / 2, y - width / 2, 0.15), (x + length / 2, y + width / 2, 1.0), yaw)
        cabin_len = length * self.rng.uniform(0.45, 0.6)
        cabin = box((x - cabin_len / 2, y - width / 2 + 0.1, 1.0), (x + cabin_len / 2, y + width / 2 - 0.1,
                    self.rng.uniform(1.4, 1.7)), yaw)
        return [body, cabin]

    def _car_material(self) -> Material:
        rng = self.rng
        # Some cars take the road's colour: a depth edge with no image edge.
        colour = self.road_colour if rng.random() < 0.15 else _colour(rng, 0.05, 0.95)
        return self.material(colour, PLAIN if rng.random() < 0.7 else NOISE, 2.0, radar_gain=10.0, contrast=0.8)

    def _parked_cars(self, side: float) -> None:
        rng = self.rng
        y = side * (self.half_road - 1.0)
        for x in np.arange(self.x_start, self.x_end, 7.0):
            if rng.random() < 0.45:
                length = rng.uniform(3.8, 4.8)
                self.add(self._car_parts(x + rng.uniform(0, 1.5), y, rng.uniform(-0.05, 0.05), length), labels.CAR,
                         self._car_material())

    def _traffic(self) -> None:
        rng = self.rng
        oncoming_y = self.half_road / 2
        for x in np.arange(self.x_start + 10, self.x_end + 60, rng.uniform(15, 30)):
            if rng.random() < 0.6:
                speed = rng.uniform(5.0, 14.0)
                self.add(self._car_parts(x, oncoming_y, 0.0, rng.uniform(3.8, 4.8)), labels.MOVING_CAR,
                         self._car_material(), velocity=(-speed, 0.0, 0.0))
        for x in np.arange(20.0, self.x_end * 0.5, rng.uniform(25, 45)):  # ahead, pulling away
            self.add(self._car_parts(x, self.ego_y, 0.0, rng.uniform(3.8, 4.8)), labels.MOVING_CAR,
                     self._car_material(), velocity=(self.ego_speed + rng.uniform(0.5, 3.0), 0.0, 0.0))

    def _street_furniture(self, side: float) -> None:
        rng = self.rng
        pole_y = side * (self.half_road + 0.4)
        grey = _grey(rng, 0.3, 0.6)
        for x in np.arange(self.x_start, self.x_end, rng.uniform(15.0, 30.0)):
            height = rng.uniform(3.5, 8.0)
            self.add(cylinder((x, pole_y, self.curb), rng.uniform(0.06, 0.15), height), labels.POLE,
                     self.material(grey, radar_gain=4.0))
            if rng.random() < 0.5:
                sign_colour = [(0.9, 0.9, 0.9), (0.1, 0.2, 0.7), (0.8, 0.1, 0.1)][rng.integers(3)]
                z = self.curb + height - 0.8
                self.add(box((x - 0.03, pole_y - 0.35, z), (x + 0.03, pole_y + 0.35, z + 0.7)), labels.TRAFFIC_SIGN,
                         self.material(sign_colour, radar_gain=8.0, boost=0.5))
        tree_y = side * (self.half_road + self.sidewalk - 0.8)
        for x in np.arange(self.x_start + rng.uniform(0, 10), self.x_end, rng.uniform(10.0, 25.0)):
            if rng.random() < 0.7:
                trunk_h = rng.uniform(1.8, 3.0)
                self.add(cylinder((x, tree_y, self.curb), rng.uniform(0.12, 0.25), trunk_h), labels.TRUNK,
                         self.material(_colour(rng, 0.2, 0.4), NOISE, 5.0, radar_gain=0.5))
                radii = rng.uniform([1.2, 1.2, 1.2], [2.8, 2.8, 2.5])
                canopy = (rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.6), rng.uniform(0.05, 0.2))
                self.add(ellipsoid((x, tree_y, self.curb + trunk_h + radii[2] * 0.8), radii, rng.uniform(0, np.pi)),
                         labels.VEGETATION, self.material(canopy, NOISE, rng.uniform(2.0, 5.0), radar_gain=0.05,
                                                          contrast=0.5))

    def _pedestrians(self, side: float) -> None:
        rng = self.rng
        y_lo, y_hi = self.half_road + 0.8, self.half_road + self.sidewalk - 0.3
        for _ in range(int(rng.integers(3, 10))):
            x, y = rng.uniform(self.x_start, self.x_end), side * rng.uniform(y_lo, max(y_lo, y_hi))
            walking = rng.random() < 0.5
            velocity = (rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.6), 0.0, 0.0) if walking else (0.0, 0.0, 0.0)
            height = rng.uniform(1.5, 1.9)
            parts = [cylinder((x, y, self.curb), rng.uniform(0.18, 0.28), height - 0.25),
                     ellipsoid((x, y, self.curb + height - 0.12), (0.11, 0.11, 0.13))]
            self.add(parts, labels.MOVING_PERSON if walking else labels.PERSON,
                     self.material(_colour(rng), radar_gain=0.3), velocity)


class _RoomBuilder(_Builder):
    """A closed room; the ego walks slowly along +x through its middle."""

    def __init__(self, rng: np.random.Generator, duration: float) -> None:
        super().__init__(rng)
        self.length = rng.uniform(7.0, 12.0)
        self.width = rng.uniform(5.0, 8.0)
        self.height = rng.uniform(2.6, 3.2)
        self.x0 = -1.5  # the ego starts 1.5 m from the back wall
        self.speed = min(rng.uniform(0.3, 0.8), (self.length - 4.0) / max(duration, 1e-3))
        self.path_end = self.x0 + 1.5 + self.speed * duration + 1.0
        self.footprints: list[tuple[float, float, float, float]] = []

    def build(self, seed: int) -> World:
        self._shell()
        for kind, count in (("table", 2), ("chair", 4), ("shelf", 3), ("sofa", 1), ("bed", 1), ("cabinet", 2),
                            ("clutter", 8), ("person", 2)):
            for _ in range(int(self.rng.integers(0, count + 1))):
                self._furniture(kind)
        light = np.array([self.rng.uniform(-0.3, 0.3), self.rng.uniform(-0.3, 0.3), 1.0])
        return World(
            kind="indoor",
            objects=tuple(self.objects),
            trajectory=EgoTrajectory(start=(0.0, 0.0, 0.0), yaw=0.0, speed=self.speed),
            sun_direction=light / np.linalg.norm(light),
            ambient=float(self.rng.uniform(0.4, 0.6)),
            has_sky=False,
            ground_classes=labels.INDOOR_GROUND_CLASSES,
            seed=seed,
        )

    def _shell(self) -> None:
        rng, x0, x1 = self.rng, self.x0, self.x0 + self.length
        y0, y1, h, t = -self.width / 2, self.width / 2, self.height, 0.2
        floor = _colour(rng, 0.3, 0.7)
        self.add(box((x0 - t, y0 - t, -0.3), (x1 + t, y1 + t, 0.0)), INDOOR_IDS["floor"],
                 self.material(floor, int(rng.choice([CHECKER, NOISE, STRIPES])), rng.uniform(1.0, 4.0), contrast=0.75))
        self.add(box((x0 - t, y0 - t, h), (x1 + t, y1 + t, h + 0.3)), INDOOR_IDS["ceiling"],
                 self.material(_grey(rng, 0.7, 0.95)))
        wall = self.material(_colour(rng, 0.4, 0.9), int(rng.choice([PLAIN, STRIPES, NOISE])), rng.uniform(1, 5),
                             radar_gain=1.0, contrast=0.85)
        for lo, hi in (((x0 - t, y0 - t, 0), (x0, y1 + t, h)), ((x1, y0 - t, 0), (x1 + t, y1 + t, h)),
                       ((x0, y0 - t, 0), (x1, y0, h)), ((x0, y1, 0), (x1, y1 + t, h))):
            self.add(box(lo, hi), INDOOR_IDS["wall"], wall)
        door_x = rng.uniform(x0 + 1.0, x1 - 2.0)  # a flush door: image edge without a depth edge
        self.add(box((door_x, y1 - 0.01, 0.0), (door_x + 0.9, y1, 2.05)), INDOOR_IDS["door"],
                 self.material(_colour(rng, 0.2, 0.8), radar_gain=1.0))

    def _place(self, size_x: float, size_y: float) -> tuple[float, float] | None:
        """A free spot for a footprint, off the ego's walking corridor, or None."""
        for _ in range(30):
            x = self.rng.uniform(self.x0 + size_x / 2 + 0.05, self.x0 + self.length - size_x / 2 - 0.05)
            y = self.rng.uniform(-self.width / 2 + size_y / 2 + 0.05, self.width / 2 - size_y / 2 - 0.05)
            in_corridor = abs(y) < 0.9 + size_y / 2 and x - size_x / 2 < self.path_end
            overlaps = any(abs(x - fx) < (size_x + sx) / 2 and abs(y - fy) < (size_y + sy) / 2
                           for fx, fy, sx, sy in self.footprints)
            if not in_corridor and not overlaps:
                self.footprints.append((x, y, size_x, size_y))
                return x, y
        return None

    def _furniture(self, kind: str) -> None:
        rng = self.rng
        sizes = {"table": (rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.0)), "chair": (0.5, 0.5),
                 "shelf": (rng.uniform(0.8, 1.6), 0.4), "sofa": (rng.uniform(1.6, 2.2), 0.9),
                 "bed": (2.0, rng.uniform(1.0, 1.8)), "cabinet": (rng.uniform(0.5, 1.0), 0.5),
                 "clutter": tuple(rng.uniform(0.15, 0.5, 2)), "person": (0.5, 0.5)}
        sx, sy = sizes[kind]
        spot = self._place(sx, sy)
        if spot is None:
            return
        x, y = spot
        x0, y0, x1, y1 = x - sx / 2, y - sy / 2, x + sx / 2, y + sy / 2
        colour = _colour(rng, 0.15, 0.9)
        texture = int(rng.choice([PLAIN, NOISE, STRIPES]))
        material = self.material(colour, texture, rng.uniform(2, 8), radar_gain=1.0)
        if kind in ("table", "chair"):
            top = 0.75 if kind == "table" else 0.45
            parts = [box((x0, y0, top - 0.04), (x1, y1, top))]
            for cx, cy in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                lx, ly = x + cx * (sx / 2 - 0.04), y + cy * (sy / 2 - 0.04)
                parts.append(box((lx - 0.03, ly - 0.03, 0.0), (lx + 0.03, ly + 0.03, top - 0.04)))
            if kind == "chair":
                parts.append(box((x0, y0, top), (x0 + 0.05, y1, top + 0.45)))
        elif kind == "sofa":
            parts = [box((x0, y0, 0.0), (x1, y1, 0.45)), box((x0, y0, 0.45), (x1, y0 + 0.2, 0.85))]
        elif kind == "clutter":
            parts = ([box((x0, y0, 0.0), (x1, y1, rng.uniform(0.1, 0.6)))] if rng.random() < 0.6
                     else [ellipsoid((x, y, 0.2), (sx / 2, sy / 2, 0.2))])
        elif kind == "person":
            parts = [cylinder((x, y, 0.0), 0.22, 1.5), ellipsoid((x, y, 1.62), (0.11, 0.11, 0.13))]
        else:
            height = {"shelf": rng.uniform(1.4, 2.2), "bed": 0.55, "cabinet": rng.uniform(0.6, 1.2)}[kind]
            parts = [box((x0, y0, 0.0), (x1, y1, height))]
        self.add(parts, INDOOR_IDS[kind], material)
