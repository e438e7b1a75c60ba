"""Fixtures: a small synthetic frame cache (no simulator run) for fast training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import depth_to_points
from depth_completion_ros.datasets.cached_frame import CachedFrame

WIDTH, HEIGHT = 160, 96


def synthetic_frame(seed: int) -> CachedFrame:
    """A road plane with a box, dense depth, and 32 'rings' of points taken from it."""
    rng = np.random.default_rng(seed)
    camera = CameraModel.from_intrinsics(100.0, 100.0, WIDTH / 2 - 0.5, HEIGHT / 3, WIDTH, HEIGHT)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None] - camera.cy
    depth = np.where(rows > 1, 1.5 * camera.fy / np.maximum(rows, 1), 0).repeat(WIDTH, axis=1).astype(np.float32)
    left, box = int(rng.integers(10, WIDTH - 50)), rng.uniform(4, 8)
    region = depth[20:70, left : left + 40]
    depth[20:70, left : left + 40] = np.where(region > 0, np.minimum(region, box), box)  # a box in front
    depth = np.minimum(depth, 80).astype(np.float32)
    rgb = (np.clip(depth[..., None] / 10, 0, 1) * rng.uniform(100, 255, 3)).astype(np.uint8)
    ring_rows = np.linspace(HEIGHT // 3, HEIGHT - 1, 32).astype(int)
    mask = np.zeros_like(depth)
    mask[ring_rows, ::2] = 1
    points, _ = depth_to_points(np.where(mask > 0, depth, 0), camera)
    row_of_point = np.round(points[:, 1] / points[:, 2] * camera.fy + camera.cy).astype(int)
    ring = np.searchsorted(ring_rows, row_of_point).clip(0, 31)
    return CachedFrame(rgb, depth, camera, points, 31 - ring, "synthetic")


def write_cache(folder: Path, make_frame, count: int) -> Path:
    """Save ``make_frame(seed)`` for seeds 0..count-1 into ``folder``."""
    for seed in range(count):
        make_frame(seed).save(folder / f"frame_{seed:02d}.npz")
    return folder


@pytest.fixture(scope="session")
def frame_cache(tmp_path_factory) -> Path:
    """A folder of 6 synthetic cached frames."""
    return write_cache(tmp_path_factory.mktemp("frame_cache"), synthetic_frame, 6)


def synthetic_radar_frame(seed: int) -> CachedFrame:
    """:func:`synthetic_frame` plus radar returns on the box and a semantic mask (box = vehicle)."""
    frame = synthetic_frame(seed)
    rng = np.random.default_rng(seed + 100)
    camera = frame.camera
    box = (frame.depth < frame.depth.max()) & (frame.rgb.sum(axis=2) > 0)
    rows, cols = np.nonzero(box[20:70] & (frame.depth[20:70] < 9))
    pick = rng.choice(rows.size, size=min(8, rows.size), replace=False)
    depth = frame.depth[20 + rows[pick], cols[pick]]
    x = (cols[pick] - camera.cx) / camera.fx * depth
    radar = np.stack([x, np.zeros_like(x), depth, rng.uniform(0, 20, x.size), rng.normal(0, 1, x.size),
                      rng.normal(0, 1, x.size)], axis=1).astype(np.float32)
    semantic = np.where(frame.depth > 0, 1, 0).astype(np.uint8)
    semantic[20:70][frame.depth[20:70] < 9] = 2
    return CachedFrame(frame.rgb, frame.depth, camera, frame.points, frame.ring, "synthetic", radar, semantic)


@pytest.fixture(scope="session")
def radar_frame_cache(tmp_path_factory) -> Path:
    """A folder of 4 synthetic cached frames with radar and semantic masks."""
    return write_cache(tmp_path_factory.mktemp("radar_frame_cache"), synthetic_radar_frame, 4)
