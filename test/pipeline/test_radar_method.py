"""The ``radar`` method: working resolution, radar/camera-only/LiDAR paths, checkpoint checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.checkpoint import save_checkpoint
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.pipeline.radar import working_size

CAMERA = CameraModel.from_intrinsics(120.0, 120.0, 99.5, 49.5, 200, 100)
RADAR = np.array([[2.0, 0.5, 20.0, 10.0, 1.0, 0.0], [-3.0, 0.5, 8.0, 5.0, 0.0, 0.0]], np.float32)


@pytest.fixture(scope="module")
def radar_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("radar_weights") / "radar_tiny.pt"
    save_checkpoint(path, "completion", CompletionNet(PRESETS["radar_tiny"]))
    return path


@pytest.fixture(scope="module")
def lidar_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("lidar_weights") / "tiny.pt"
    save_checkpoint(path, "completion", CompletionNet(PRESETS["tiny"]))
    return path


def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)


def test_working_size_is_a_multiple_of_the_stride():
    assert working_size(CameraModel.from_intrinsics(1266, 1266, 816, 491, 1600, 900), 0.5, 32) == (800, 448)
    assert working_size(CAMERA, 0.01, 8) == (8, 8)


def test_radar_frame_gives_dense_depth_at_the_camera_size(radar_weights):
    engine = CompletionEngine("radar", device="cpu", weights=radar_weights, method_params={"working_scale": 0.5})
    result = engine.complete(rgb(), np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, RADAR)
    assert result.depth.shape == (CAMERA.height, CAMERA.width)
    assert np.all(result.depth > 0) and not result.fallback
    # a fresh network returns its column prior: the nearest radar column's depth
    assert set(np.unique(np.round(result.depth))) <= {8.0, 20.0}
    assert engine.implementation.counts == {"radar_frames": 1}


def test_without_radar_camera_only_or_lidar_by_configuration(radar_weights):
    sparse = np.zeros((CAMERA.height, CAMERA.width), np.float32)
    sparse[60, ::10] = 6.0
    camera_only = CompletionEngine("radar", device="cpu", weights=radar_weights)
    assert np.all(camera_only.complete(rgb(), sparse, CAMERA, None).depth > 0)
    behind = RADAR * np.array([1, 1, -1, 1, 1, 1], np.float32)  # nothing in view counts as no radar
    camera_only.complete(rgb(), sparse, CAMERA, behind)
    assert camera_only.implementation.counts == {"camera_only_frames": 2}
    lidar = CompletionEngine("radar", device="cpu", weights=radar_weights, method_params={"without_radar": "lidar"})
    depth = lidar.complete(rgb(), sparse, CAMERA, None).depth
    assert depth[60, 0] == pytest.approx(6.0)
    lidar.complete(rgb(), np.zeros_like(sparse), CAMERA, None)  # no LiDAR either: camera-only
    assert lidar.implementation.counts == {"lidar_frames": 1, "camera_only_frames": 1}
    # the diagnostics carry every radar counter from the start, zeros included
    assert lidar.counters().items() >= {"radar_frames": 0, "camera_only_frames": 1, "lidar_frames": 1,
                                        "prior_fallbacks": 0, "gpu_oom_fallbacks": 0, "frames": 2}.items()


def test_bad_configuration_and_checkpoints_are_bad_input(radar_weights, lidar_weights):
    with pytest.raises(BadInputError, match="without_radar"):
        CompletionEngine("radar", device="cpu", weights=radar_weights, method_params={"without_radar": "sonar"})
    with pytest.raises(BadInputError, match="unknown parameter"):
        CompletionEngine("radar", device="cpu", weights=radar_weights, method_params={"scale": 2})
    with pytest.raises(BadInputError, match="not a radar network"):
        CompletionEngine("radar", device="cpu", weights=lidar_weights)
    with pytest.raises(BadInputError, match="use method 'radar'"):
        CompletionEngine("learned", device="cpu", weights=radar_weights)
    engine = CompletionEngine("radar", device="cpu", weights=radar_weights)
    with pytest.raises(BadInputError, match="camera image"):
        engine.complete(None, np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, RADAR)
    with pytest.raises(BadInputError, match="radar"):
        engine.complete(rgb(), np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, RADAR[:, :2])


def test_shipped_radar_weights_complete_a_nuscenes_sized_frame():
    camera = CameraModel.from_intrinsics(1266.4, 1266.4, 816.3, 491.5, 1600, 900)
    engine = CompletionEngine("radar", device="cpu")  # weights/radar_small.pt
    radar = np.array([[-4.0, 0.4, 25.0, 12.0, 0.5, 0.0], [3.0, 0.6, 12.0, 6.0, 0.0, 0.0],
                      [10.0, 0.5, 40.0, 20.0, -3.0, 0.2]], np.float32)
    rgb = np.random.default_rng(1).integers(0, 255, (900, 1600, 3), dtype=np.uint8)
    depth = engine.complete(rgb, np.zeros((900, 1600), np.float32), camera, radar).depth
    assert depth.shape == (900, 1600) and np.all(np.isfinite(depth)) and np.all(depth > 0)
    assert engine.implementation.max_points == 128 and engine.implementation.counts == {"radar_frames": 1}


def test_non_finite_output_falls_back_to_the_column_prior_and_nan_radar_rows_are_dropped(radar_weights):
    engine = CompletionEngine("radar", device="cpu", weights=radar_weights)
    method = engine.implementation
    with_nan = np.vstack([RADAR, np.full((1, 6), np.nan, np.float32)])
    sparse = np.zeros((CAMERA.height, CAMERA.width), np.float32)
    assert np.all(engine.complete(rgb(), sparse, CAMERA, with_nan).depth > 0)
    method.runner = lambda rgb, sparse, prior, radar: (np.full(sparse.shape, np.nan, np.float32), np.ones_like(sparse))
    result = engine.complete(rgb(), sparse, CAMERA, RADAR)
    assert result.fallback and engine.stats.method_fallbacks == 1
    assert method.counts == {"radar_frames": 2, "prior_fallbacks": 1}
    assert set(np.unique(np.round(result.depth))) <= {8.0, 20.0}  # the column prior


def test_radar_geometric_stretches_each_return_down_to_the_road():
    engine = CompletionEngine("radar_geometric", method_params={"camera_height": 1.5})
    result = engine.complete(rgb(), np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, RADAR)
    column = int(round(120.0 * 2.0 / 20.0 + 99.5))  # the 20 m return's image column
    depth = result.depth[:, column]
    road = 1.5 * 120.0 / (np.arange(CAMERA.height) - 49.5)
    assert np.allclose(depth[:50], 20.0)  # above the horizon: the return's depth
    below = np.arange(CAMERA.height) >= 50
    assert np.allclose(depth[below], np.minimum(20.0, road[below]), rtol=1e-4)  # cut by the road
    assert np.all(result.depth > 0) and result.depth.shape == (CAMERA.height, CAMERA.width)


def test_radar_geometric_without_radar_gives_the_road_only_and_checks_its_parameters():
    engine = CompletionEngine("radar_geometric")
    result = engine.complete(None, np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, None)
    assert np.all(result.depth[:50] == 0) and np.all(result.depth[50:] > 0)
    for params, says in (({"camera_height": 0.0}, "camera_height"), ({"pitch_deg": 45.0}, "pitch_deg"),
                         ({"height": 1.0}, "unknown parameter")):
        with pytest.raises(BadInputError, match=says):
            CompletionEngine("radar_geometric", method_params=params)


def test_a_network_trained_on_the_road_cut_prior_gets_it_for_the_configured_rig(tmp_path):
    path = tmp_path / "road.pt"
    save_checkpoint(path, "completion", CompletionNet(replace(PRESETS["radar_tiny"], radar_road=(1.5, 2.0))))
    assert CompletionEngine("radar", weights=path).implementation.road == (1.5, 2.0)  # the training rig by default
    engine = CompletionEngine("radar", weights=path, method_params={"camera_height": 2.2})
    assert engine.implementation.road == (2.2, 2.0)
    assert engine.complete(rgb(), np.zeros((CAMERA.height, CAMERA.width), np.float32), CAMERA, RADAR).depth.shape \
        == (CAMERA.height, CAMERA.width)


def test_an_output_that_contradicts_its_radar_falls_back_to_the_radar_prior(radar_weights):
    engine = CompletionEngine("radar", device="cpu", weights=radar_weights)
    method = engine.implementation
    sparse = np.zeros((CAMERA.height, CAMERA.width), np.float32)
    outputs = {}

    def runner(scale: float):
        def run(rgb, sparse, prior, radar):
            outputs["prior"] = prior
            return np.where(prior > 0, prior * scale, 30.0).astype(np.float32), np.ones_like(sparse)
        return run

    method.runner = runner(1.3)  # 30 % off the radar: within what the simulator's radar noise gives
    near = engine.complete(rgb(), sparse, CAMERA, RADAR).depth
    assert method.counts["distrusted_frames"] == 0
    method.runner = runner(2.0)  # twice every radar depth: the network is not believed
    contradicting = engine.complete(rgb(), sparse, CAMERA, RADAR).depth
    assert method.counts["distrusted_frames"] == 1
    assert set(np.unique(np.round(contradicting))) <= {8.0, 20.0}  # the column prior (no road cut here)
    assert np.allclose(near[near > 0] / 1.3, contradicting[near > 0], rtol=0.02)
    method.runner = runner(1.75)  # between the two thresholds: a blend
    blended = engine.complete(rgb(), sparse, CAMERA, RADAR).depth
    assert np.all((blended >= contradicting - 1e-4) & (blended <= 1.75 * contradicting + 1e-4))
    assert not np.allclose(blended, contradicting) and method.counts["distrusted_frames"] == 2
    with pytest.raises(BadInputError, match="disagreement_low < disagreement_high"):
        CompletionEngine("radar", device="cpu", weights=radar_weights,
                         method_params={"disagreement_low": 0.9, "disagreement_high": 0.6})
