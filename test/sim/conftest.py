"""Shared fixtures of the simulator tests: a small, fast rig and hand-built worlds."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from depth_completion_ros.sim import labels
from depth_completion_ros.sim.meshes import ConvexPart
from depth_completion_ros.sim.rig import rig_config_path, rig_from_dict
from depth_completion_ros.sim.world import EgoTrajectory, Material, World, WorldObject

GREY = Material(albedo=(0.5, 0.5, 0.5), albedo2=(0.4, 0.4, 0.4), reflectivity=0.5, radar_gain=10.0)


@pytest.fixture
def small_rig_config() -> dict:
    """The built-in KITTI rig at a quarter of the image size, a VLP-16 and a 64x64x16 grid."""
    with open(rig_config_path("kitti"), encoding="utf-8") as stream:
        config = yaml.safe_load(stream)
    config = copy.deepcopy(config)
    config["camera"].update(width=310, height=94, fx=180.0, fy=180.0, cx=154.5, cy=43.0)
    config["lidar"]["model"] = "VLP-16"
    config["occupancy"] = {"origin": [0.0, -6.4, -2.0], "resolution": 0.2, "shape": [64, 64, 16]}
    return config


@pytest.fixture
def small_rig(small_rig_config):
    return rig_from_dict(small_rig_config)


@pytest.fixture
def small_rig_file(small_rig_config, tmp_path) -> Path:
    path = tmp_path / "small_rig.yaml"
    path.write_text(yaml.safe_dump(small_rig_config), encoding="utf-8")
    return path


@pytest.fixture
def make_world():
    """Factory fixture: ``make_world([(parts, class_id), ...], velocities, materials)``."""
    return _make_world


def _make_world(parts_and_classes: list[tuple[ConvexPart | list[ConvexPart], int]], velocities=None,
               materials=None, kind: str = "street") -> World:
    """A world of the given parts, ego at rest at the origin, sun overhead."""
    objects = []
    for i, (parts, class_id) in enumerate(parts_and_classes):
        parts = tuple(parts) if isinstance(parts, list) else (parts,)
        velocity = np.zeros(3) if velocities is None else np.asarray(velocities[i], dtype=np.float64)
        material = GREY if materials is None else materials[i]
        objects.append(WorldObject(parts, class_id, material, velocity))
    return World(kind=kind, objects=tuple(objects), trajectory=EgoTrajectory((0.0, 0.0, 0.0), 0.0, 0.0),
                 sun_direction=np.array([0.0, 0.0, 1.0]), ambient=0.4, has_sky=True,
                 ground_classes=labels.GROUND_CLASSES)
