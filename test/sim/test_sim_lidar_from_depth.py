import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.sim.lidar import LidarModel
from depth_completion_ros.sim.lidar_from_depth import (
    beam_pattern_for_camera,
    default_lidar_pose,
    depth_to_mesh,
    lidar_from_depth,
)


def _shared_data() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / ".." / "shared" / "data",
                  Path(os.environ.get("DCR_SHARED_DATA", "/nonexistent")), Path("/work/shared/data")]
    return next((p for p in candidates if (p / "redwood_rgbd").is_dir()), None)


@pytest.fixture(scope="module")
def redwood():
    """(camera, [depth maps in metres]) of the Redwood PrimeSense frames."""
    root = _shared_data()
    if root is None:
        pytest.skip("shared sample data (../shared/data/redwood_rgbd) not found; set DCR_SHARED_DATA")
    folder = root / "redwood_rgbd"
    intrinsics = json.loads((folder / "camera_primesense.json").read_text())
    K = np.array(intrinsics["intrinsic_matrix"]).reshape(3, 3).T  # stored column-major
    camera = CameraModel(width=intrinsics["width"], height=intrinsics["height"], K=K)
    depths = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
              for p in sorted((folder / "depth").glob("*.png"))[:2]]
    return camera, depths


def _relative_error(sparse: np.ndarray, dense: np.ndarray) -> np.ndarray:
    has = sparse > 0
    assert np.all(dense[has] > 0), "a LiDAR return where the depth map has no surface"
    return np.abs(sparse[has] - dense[has]) / dense[has]


@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (0.0, -0.08, -0.27), (0.3, 0.1, -0.1)])
def test_ideal_scan_agrees_with_the_dense_depth_at_its_pixels(redwood, offset):
    camera, depths = redwood
    assert camera.fx == 525.0 and camera.cx == 319.5
    for depth in depths:
        simulated = lidar_from_depth(depth, camera, T_camera_lidar=default_lidar_pose(offset))
        error = _relative_error(simulated.sparse_depth, depth)
        assert error.size > 5000
        # a hit is anywhere in its pixel's footprint: half a pixel of slope, no more
        assert np.percentile(error, 99) < 0.01
        assert error.max() < 0.05 + 0.01  # triangles spanning > 5 % are cut


def test_noisy_scan_agrees_within_the_modelled_noise(redwood):
    camera, depths = redwood
    sigma = 0.02
    lidar = beam_pattern_for_camera(camera, rings=64, range_noise_std=sigma)
    simulated = lidar_from_depth(depths[0], camera, lidar, rng=np.random.default_rng(0))
    has = simulated.sparse_depth > 0
    absolute = np.abs(simulated.sparse_depth[has] - depths[0][has])
    assert np.mean(absolute <= 4 * sigma + 0.01 * depths[0][has]) > 0.995
    assert absolute.std() > 0.5 * sigma


def test_scan_has_the_beam_pattern_rings(redwood):
    camera, depths = redwood
    lidar = beam_pattern_for_camera(camera, rings=32)
    simulated = lidar_from_depth(depths[0], camera, lidar)
    rings = np.unique(simulated.points[:, 4])
    assert rings.size > 20 and rings.max() < 32
    elevation = np.degrees(np.arctan2(simulated.points[:, 2], np.hypot(*simulated.points[:, :2].T)))
    np.testing.assert_allclose(elevation, lidar.elevations_deg[simulated.points[:, 4].astype(int)], atol=2e-3)


def test_mesh_is_cut_at_depth_discontinuities_and_holes():
    camera = CameraModel.from_intrinsics(50, 50, 15.5, 11.5, 32, 24)
    depth = np.full((24, 32), 4.0, np.float32)
    depth[:, :16] = 2.0  # a step: 2 m left, 4 m right
    depth[20:, 20:] = 0.0  # a hole
    vertices, triangles = depth_to_mesh(depth, camera)
    corner_depth = vertices[triangles][:, :, 2]
    assert np.all(corner_depth.max(axis=1) - corner_depth.min(axis=1) < 1e-6)  # no triangle spans the step
    assert np.all(corner_depth > 0)
    expected = 0  # count by hand: a quad's two triangles, each kept when its 3 corners share one depth
    for r in range(23):
        for c in range(31):
            for tri in (((r, c), (r + 1, c), (r, c + 1)), ((r, c + 1), (r + 1, c), (r + 1, c + 1))):
                values = {float(depth[p]) for p in tri}
                expected += len(values) == 1 and 0.0 not in values
    assert triangles.shape[0] == expected


def test_scan_through_a_cut_sees_the_background_not_a_fake_surface():
    camera = CameraModel.from_intrinsics(100, 100, 63.5, 47.5, 128, 96)
    depth = np.full((96, 128), 6.0, np.float32)
    depth[:, 60:68] = 2.0  # a thin post in front of a wall
    simulated = lidar_from_depth(depth, camera, LidarModel.builtin("VLP-16"), default_lidar_pose((0.2, 0, 0)))
    values = simulated.sparse_depth[simulated.sparse_depth > 0]
    assert np.all(np.isclose(values, 2.0, rtol=1e-3) | np.isclose(values, 6.0, rtol=1e-3))  # no 2-6 m streaks
