"""Shared fixtures: the real sample data beside the project, and isolated ROS domains."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO = REPO_ROOT


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repo (or $DCR_SHARED_DATA), None when absent."""
    for candidate in (os.environ.get("DCR_SHARED_DATA"), REPO_ROOT.parent / "shared" / "data", "/work/shared/data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real sample data not found: expected ../shared/data beside the repo (or set DCR_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def kitti_object(shared_data: Path) -> Path:
    path = shared_data / "kitti_object"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def radiate_folder() -> Path:
    """The RADIATE tiny_foggy sequence folder; the test is skipped, saying how to get it, when absent."""
    from depth_completion_ros.datasets.radiate import find_radiate

    folder = find_radiate()
    if folder is None:
        pytest.skip("RADIATE tiny_foggy is absent: extract data/radiate/tiny_foggy and config/default-calib.yaml "
                    "of marcelsheeny/radiate_sdk @ b1d5de55 to /work/data/radiate (or set DCR_RADIATE)")
    return folder


@pytest.fixture(scope="session", autouse=True)
def no_zombie_dds_shared_memory() -> None:
    """Remove Fast DDS shared-memory files of dead processes before the DDS tests: a
    participant that opens a killed process's port can stall or deadlock."""
    from depth_completion_ros.ros.shm import clean_zombie_shm

    clean_zombie_shm()


@pytest.fixture
def ros_domain_id(monkeypatch) -> int:
    """A ROS domain of its own for this test (so concurrent test runs cannot hear each
    other), with the Fast DDS transports the package uses for large messages."""
    domain = 1 + (os.getpid() * 7919 + id(monkeypatch)) % 100
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    return domain


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


ROS_MODULES = frozenset({
    "rclpy", "rosidl_runtime_py", "rosidl_parser", "rpyutils", "rmw_implementation", "ament_index_python", "launch",
    "launch_ros", "message_filters", "cv_bridge", "tf2_ros", "rosbag2_py", "builtin_interfaces", "sensor_msgs",
    "std_msgs", "geometry_msgs", "visualization_msgs", "nav_msgs", "stereo_msgs", "diagnostic_msgs"})


@pytest.fixture(scope="session")
def ros_modules() -> frozenset[str]:
    """Top-level names of the ROS 2 packages (what a machine without ROS cannot import)."""
    return ROS_MODULES
