"""The held-out nuScenes check: HDL-32E, every 2nd ring as input."""

from pathlib import Path

import numpy as np
import pytest

from depth_completion_ros.datasets.nuscenes_protocol import (
    RADAR_HEIGHT_IN_LIDAR,
    build_protocol,
    radar_like_frames,
    radar_like_points,
    read_lidar_top,
)
from depth_completion_ros.datasets.shared_data import find_shared_data
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.baselines import nearest_fill
from depth_completion_ros.eval.metrics import DepthRange, MetricAccumulator
from depth_completion_ros.pipeline.engine import CompletionEngine

NUSCENES = find_shared_data("nuscenes_sample", Path(__file__).resolve().parents[2])
needs_nuscenes = pytest.mark.skipif(NUSCENES is None, reason="shared sample data ../shared/data/nuscenes_sample is absent")


def test_truncated_scan_is_rejected(tmp_path):
    path = tmp_path / "scan.pcd.bin"
    np.zeros(7, np.float32).tofile(path)
    with pytest.raises(BadInputError, match="5-float"):
        read_lidar_top(path)


@needs_nuscenes
def test_classical_beats_the_nearest_neighbour_fill_on_held_out_data():
    frames = build_protocol(NUSCENES)
    assert len(frames) == 6
    engine = CompletionEngine("classical", device="cpu")
    ours, baseline = MetricAccumulator([DepthRange("all")]), MetricAccumulator([DepthRange("all")])
    for item in frames:
        frame = item.frame
        assert np.count_nonzero(frame.sparse) > 1000 and np.count_nonzero(item.ground_truth) > 1000
        ours.add(engine.complete(frame.rgb, frame.sparse, frame.camera).depth, item.ground_truth)
        baseline.add(nearest_fill(frame.sparse), item.ground_truth)
    (classical,), (nearest,) = ours.summaries(), baseline.summaries()
    assert classical.coverage == nearest.coverage == 1.0
    assert classical.values["rmse_mm"] < nearest.values["rmse_mm"]
    assert classical.values["mae_mm"] < nearest.values["mae_mm"]


def test_radar_like_points_lie_on_the_radar_plane_and_leave_the_ground_truth():
    rng = np.random.default_rng(0)
    scan = np.column_stack([rng.uniform(-60, 60, (500, 2)), rng.uniform(-2.5, 1.0, 500)])
    radar, used = radar_like_points(scan, 40, np.random.default_rng(1), range_noise=0.0)
    assert radar.shape == (40, 6) and used.sum() == 40
    np.testing.assert_allclose(radar[:, 2], RADAR_HEIGHT_IN_LIDAR)
    chosen = scan[used][:, :2]  # no noise: the same x, y, in another order
    np.testing.assert_allclose(radar[np.argsort(radar[:, 0]), :2], chosen[np.argsort(chosen[:, 0])], rtol=1e-6)
    assert np.all((scan[used, 2] > -1.6) & (scan[used, 2] < 0.2))  # objects, not the road


@needs_nuscenes
def test_radar_like_frames_of_the_shared_sample():
    frames = radar_like_frames(NUSCENES, count=300)
    assert [f[0] for f in frames][:2] == ["CAM_BACK", "CAM_BACK_LEFT"] and len(frames) == 6
    for _, rgb, radar, truth, camera in frames:
        assert radar.shape == (300, 6) and truth.shape == rgb.shape[:2] == (camera.height, camera.width)
        assert np.count_nonzero(truth) > 2000
