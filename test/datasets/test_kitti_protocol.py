"""The 16-beam real-data protocol from KITTI object frames, and the classical-vs-baseline check."""

from pathlib import Path

import numpy as np
import pytest

from depth_completion_ros.datasets.kitti_protocol import (
    CROP_HEIGHT,
    CROP_WIDTH,
    build_protocol,
    check_rings_descend,
    completion_crop,
    ring_ids,
)
from depth_completion_ros.datasets.shared_data import find_shared_data
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.baselines import nearest_fill
from depth_completion_ros.eval.metrics import DepthRange, MetricAccumulator
from depth_completion_ros.geometry.kitti_calib import load_object_calib
from depth_completion_ros.pipeline.engine import CompletionEngine

KITTI_OBJECT = find_shared_data("kitti_object", Path(__file__).resolve().parents[2])
needs_kitti = pytest.mark.skipif(KITTI_OBJECT is None, reason="shared sample data ../shared/data/kitti_object is absent")


def _synthetic_scan(elevations_deg, points_per_ring=50, first_ring_start=0.4) -> np.ndarray:
    """Rings sweeping azimuth [0, 2 pi) as KITTI stores them; the first one lacks its start
    (no returns there), as in KITTI object frame 000001."""
    rings = []
    for index, elevation in enumerate(np.radians(elevations_deg)):
        start = first_ring_start if index == 0 else 0.0
        azimuth = np.linspace(start, 2 * np.pi, points_per_ring, endpoint=False)
        rings.append(np.column_stack([np.cos(azimuth), np.sin(azimuth), np.full(points_per_ring, np.tan(elevation))]))
    return np.vstack(rings) * 10.0


def test_rings_start_where_the_azimuth_wraps_around():
    scan = _synthetic_scan([2.0, 0.0, -2.0])
    rings = ring_ids(scan)
    np.testing.assert_array_equal(rings, np.repeat([0, 1, 2], 50))
    medians = check_rings_descend(scan, rings)
    np.testing.assert_allclose(np.degrees(medians), [2.0, 0.0, -2.0], atol=1e-9)


def test_rings_out_of_elevation_order_are_rejected():
    scan = _synthetic_scan([2.0, 3.0, -2.0])
    with pytest.raises(BadInputError, match="ring 0 to 1"):
        check_rings_descend(scan, ring_ids(scan), "scan.bin")


def test_a_parallax_sized_rise_between_neighbouring_rings_is_accepted():
    scan = _synthetic_scan([2.0, 2.3, -2.0])  # 0.3 deg: the laser blocks' overlap, a near object
    np.testing.assert_allclose(np.degrees(check_rings_descend(scan, ring_ids(scan))), [2.0, 2.3, -2.0], atol=1e-9)


def test_a_ring_without_points_is_rejected():
    scan = _synthetic_scan([2.0, 0.0])
    with pytest.raises(BadInputError, match="ring 1 has no point"):
        check_rings_descend(scan, np.repeat([0, 2], 50), "scan.bin")


@pytest.fixture(scope="module")
def protocol():
    return build_protocol(KITTI_OBJECT)


@needs_kitti
def test_protocol_frames_are_cropped_with_their_intrinsics(protocol):
    assert len(protocol) == 3
    for item in protocol:
        frame = item.frame
        assert frame.sparse.shape == item.ground_truth.shape == (CROP_HEIGHT, CROP_WIDTH)
        assert frame.rgb.shape == (CROP_HEIGHT, CROP_WIDTH, 3)
        stem = Path(frame.name).stem
        calib = load_object_calib(KITTI_OBJECT / "calib" / f"{stem}.txt")
        full = calib.camera(2, *_image_size(KITTI_OBJECT / "image_2" / frame.name))
        x, y, _, _ = completion_crop(full)
        assert frame.camera.cx == pytest.approx(full.cx - x) and frame.camera.cy == pytest.approx(full.cy - y)


def _image_size(path: Path) -> tuple[int, int]:
    import cv2

    height, width = cv2.imread(str(path)).shape[:2]
    return width, height


@needs_kitti
def test_input_is_a_quarter_of_the_rings_and_ground_truth_the_rest(protocol):
    for item in protocol:
        n_input = np.count_nonzero(item.frame.sparse)
        n_truth = np.count_nonzero(item.ground_truth)
        assert 0 < n_input < n_truth < 4 * n_input  # 16 input rings, up to 48 held-out ones
        assert np.count_nonzero((item.frame.sparse > 0) & (item.ground_truth > 0)) < 0.02 * n_input


@needs_kitti
def test_classical_beats_the_nearest_neighbour_fill_on_real_data(protocol):
    engine = CompletionEngine("classical", device="cpu")
    classical, baseline = MetricAccumulator([DepthRange("all")]), MetricAccumulator([DepthRange("all")])
    for item in protocol:
        frame = item.frame
        classical.add(engine.complete(frame.rgb, frame.sparse, frame.camera).depth, item.ground_truth)
        baseline.add(nearest_fill(frame.sparse), item.ground_truth)  # the honest baseline
    (ours,), (nearest,) = classical.summaries(), baseline.summaries()
    assert ours.coverage == nearest.coverage == 1.0  # both dense: the errors compare like with like
    assert ours.values["rmse_mm"] < nearest.values["rmse_mm"]
    assert ours.values["mae_mm"] < nearest.values["mae_mm"]
