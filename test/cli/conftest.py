"""A small simulated bag (camera, LiDAR, radar, depth GT) shared by the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def small_rig(path: Path) -> Path:
    """The KITTI-like rig at half resolution with a coarse occupancy grid (fast to simulate)."""
    rig = yaml.safe_load((REPO / "config" / "rigs" / "kitti.yaml").read_text())
    camera = rig["camera"]
    for key in ("width", "height", "fx", "fy", "cx", "cy"):
        camera[key] = round(camera[key] / 2) if key in ("width", "height") else camera[key] / 2
    rig["occupancy"] = {"origin": [0.0, -25.6, -2.0], "resolution": 0.8, "shape": [64, 64, 8]}
    path.write_text(yaml.safe_dump(rig))
    return path


@pytest.fixture(scope="session")
def small_rig_file(tmp_path_factory) -> Path:
    return small_rig(tmp_path_factory.mktemp("rig") / "rig.yaml")


@pytest.fixture(scope="session")
def sim_bag(tmp_path_factory, small_rig_file) -> Path:
    """Path of a 6-sweep street bag written by `dcr sim`."""
    folder = tmp_path_factory.mktemp("simbag")
    rig = small_rig_file
    bag = folder / "street"
    subprocess.run([sys.executable, "-m", "depth_completion_ros.cli.main", "sim", "--scene", "street",
                    "--frames", "6", "--seed", "11", "--rig", str(rig), "--out", str(bag)],
                   check=True, capture_output=True, timeout=600)
    return bag
