"""Fixtures of the ROS-side tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from depth_completion_ros.models.checkpoint import save_checkpoint
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet


@pytest.fixture(scope="session")
def radar_checkpoint(tmp_path_factory) -> Path:
    """An untrained ``radar_tiny`` radar network checkpoint (the shipped one may not exist)."""
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "radar_tiny.pt", "completion",
                           CompletionNet(PRESETS["radar_tiny"]))
