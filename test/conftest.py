"""Shared fixtures: the real sample data beside the project, and isolated ROS domains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture
def ros_domain_id(monkeypatch) -> int:
    """A ROS domain of its own for this test (so concurrent test runs cannot hear each
    other), with the Fast DDS transports the package uses for large messages."""
    domain = 1 + (os.getpid() * 7919 + id(monkeypatch)) % 100
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    return domain
