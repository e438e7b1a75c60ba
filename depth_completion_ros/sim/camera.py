"""Camera rendering by ray casting: RGB, z-depth, semantic and instance images.

Rays come from the project's :class:`~depth_completion_ros.geometry.camera.CameraModel`
through :func:`~depth_completion_ros.geometry.camera.unproject`: the ray of pixel
``(u, v)`` (pixel centres at integer coordinates) starts at ``unproject(uv, 0)`` and
points along ``unproject(uv, 1) - unproject(uv, 0)``. That direction has unit depth,
so the ray parameter of a hit IS the depth that ``project()`` gives the hit point:
rendered depth and the geometry API agree exactly. It also covers a rectified right
camera whose ``P`` has ``Tx = -fx B`` (its rays start at the right camera centre,
expressed in the left camera frame).

RGB: the object's procedural texture (plain, checker, stripes or value noise, in its
own moving coordinates, on the face's plane) times Lambert shading ``ambient + (1 -
ambient) max(0, n . sun)``; rays that miss see a sky gradient. Then exposure jitter,
optional Gaussian blur and Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from depth_completion_ros.geometry.camera import CameraModel, unproject
from depth_completion_ros.sim.rig import CameraAppearance
from depth_completion_ros.sim.world import CHECKER, NOISE, STRIPES, World, WorldSnapshot

_SKY_HORIZON = np.array([0.78, 0.82, 0.9], dtype=np.float32)
_SKY_ZENITH = np.array([0.3, 0.45, 0.8], dtype=np.float32)


@dataclass(frozen=True)
class CameraImage:
    """One rendered camera image.

    Attributes:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 z-depth in metres (as ``project()`` defines it), 0 = no surface (sky).
        semantic: (H, W) uint16 class id, 0 = none.
        instance: (H, W) int32 world object index + 1, 0 = none.
    """

    rgb: np.ndarray
    depth: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray


@lru_cache(maxsize=8)
def camera_rays(camera: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel rays of a camera, row-major, in the camera model's reference frame.

    Returns:
        ``(origins, directions)``: float32 (H*W, 3) unit-depth directions, and origins of
        the same shape, or (1, 3) when all rays share one centre (a pinhole camera).
    """
    cam = camera.image_model()
    cols, rows = np.meshgrid(np.arange(cam.width, dtype=np.float64), np.arange(cam.height, dtype=np.float64))
    uv = np.column_stack([cols.ravel(), rows.ravel()])
    origins = unproject(cam, uv, np.zeros(uv.shape[0]))
    directions = unproject(cam, uv, np.ones(uv.shape[0])) - origins
    if np.allclose(origins, origins[0], rtol=0.0, atol=1e-9):
        origins = origins[:1]
    return origins.astype(np.float32), directions.astype(np.float32)


def texture_pattern(local: np.ndarray, normal: np.ndarray, kind: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Procedural texture value in [0, 1] at surface points.

    Args:
        local: (N, 3) point coordinates relative to the object's texture origin, metres.
        normal: (N, 3) surface normals; the coordinate along the dominant normal axis is
            dropped, so a face's pattern does not flicker with its plane's position.
        kind: (N,) texture kind (PLAIN, CHECKER, STRIPES, NOISE).
        scale: (N,) cycles per metre.
    """
    cells = np.floor(local * scale[:, None]).astype(np.int64)
    cells[np.arange(cells.shape[0]), np.argmax(np.abs(normal), axis=1)] = 0
    checker = (cells.sum(axis=1) & 1).astype(np.float32)
    stripes = (cells[:, 0] & 1).astype(np.float32)
    hashed = (cells[:, 0] * 73856093) ^ (cells[:, 1] * 19349663) ^ (cells[:, 2] * 83492791)
    noise = (hashed % 1021).astype(np.float32) / 1020.0
    pattern = np.zeros(kind.shape, dtype=np.float32)
    pattern = np.where(kind == CHECKER, checker, pattern)
    pattern = np.where(kind == STRIPES, stripes, pattern)
    return np.where(kind == NOISE, noise, pattern)


def render_camera(snapshot: WorldSnapshot, world: World, camera: CameraModel, T_world_camera: np.ndarray,
                  appearance: CameraAppearance, rng: np.random.Generator | None = None) -> CameraImage:
    """Render one camera image.

    Args:
        snapshot: the world at the exposure time.
        world: the world (lighting and sky).
        camera: the camera model (its delivered image size is rendered).
        T_world_camera: (4, 4) pose of the camera model's reference frame (for a rectified
            right camera with ``Tx != 0``: the LEFT camera's pose).
        appearance: noise, blur and exposure options.
        rng: source of exposure jitter and pixel noise; None renders them off.
    """
    cam = camera.image_model()
    origins, directions = camera_rays(cam)
    R, t = T_world_camera[:3, :3], T_world_camera[:3, 3]
    world_origins = origins @ R.T.astype(np.float32) + t.astype(np.float32)
    world_directions = directions @ R.T.astype(np.float32)
    hits = snapshot.cast(world_origins, world_directions)
    hit = hits.hit
    index = np.flatnonzero(hit)
    geometry = hits.geometry[index]

    depth = np.where(hit, hits.distance, np.float32(0)).astype(np.float32)
    semantic = np.zeros(hit.size, dtype=np.uint16)
    semantic[index] = snapshot.class_id[geometry]
    instance = np.zeros(hit.size, dtype=np.int32)
    instance[index] = geometry + 1

    points = world_origins[index if world_origins.shape[0] > 1 else 0] + world_directions[index] * hits.distance[
        index, None]
    normal = hits.normal[index]
    pattern = texture_pattern(points - snapshot.texture_origin[geometry], normal, snapshot.texture[geometry],
                              snapshot.texture_scale[geometry])[:, None]
    colour = snapshot.albedo[geometry] * (1 - pattern) + snapshot.albedo2[geometry] * pattern
    lambert = np.maximum(normal @ world.sun_direction.astype(np.float32), np.float32(0))
    shade = np.float32(world.ambient) + np.float32(1 - world.ambient) * lambert

    rgb = np.empty((hit.size, 3), dtype=np.float32)
    rgb[index] = colour * shade[:, None]
    miss = np.flatnonzero(~hit)
    up = world_directions[miss, 2] / np.linalg.norm(world_directions[miss], axis=1)
    blend = np.clip(up, 0, 1)[:, None].astype(np.float32)
    rgb[miss] = _SKY_HORIZON * (1 - blend) + _SKY_ZENITH * blend if world.has_sky else 0.0

    image = rgb.reshape(cam.height, cam.width, 3) * np.float32(255.0)
    if rng is not None:
        image *= np.float32(rng.uniform(1 - appearance.exposure_jitter, 1 + appearance.exposure_jitter))
    if appearance.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), appearance.blur_sigma)
    if rng is not None and appearance.noise_std > 0:
        image += np.float32(appearance.noise_std) * rng.standard_normal(image.shape, dtype=np.float32)
    shape = (cam.height, cam.width)
    return CameraImage(
        rgb=np.clip(image + 0.5, 0, 255).astype(np.uint8),
        depth=depth.reshape(shape),
        semantic=semantic.reshape(shape),
        instance=instance.reshape(shape),
    )


def disparity_from_depth(depth: np.ndarray, right_camera: CameraModel) -> np.ndarray:
    """(H, W) float32 left-image disparity ``f B / z`` in pixels (0 where depth is 0).

    Args:
        depth: (H, W) left z-depth in metres.
        right_camera: the rectified right camera (``f B = -P[0, 3]``).
    """
    focal_baseline = np.float32(right_camera.stereo_baseline_term)
    with np.errstate(divide="ignore"):
        return np.where(depth > 0, focal_baseline / depth, np.float32(0)).astype(np.float32)
