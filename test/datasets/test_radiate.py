"""RADIATE loader: file formats (synthetic), then calibration, rectification, pairing, split
and odometry on the real ``tiny_foggy`` sequence when it is present (skipped otherwise)."""

import cv2
import numpy as np
import pytest

from depth_completion_ros.datasets.radiate import (
    HELD_OUT_PAIRS,
    STEREO_CORRECTION_DEG,
    T_BASE_VELODYNE,
    RadiateSequence,
    Trajectory,
    read_calibration,
    read_timestamps,
    sensor_to_camera,
    stereo_rectification,
    sweep_fraction,
)
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.transforms import make_transform, transform_points

@pytest.fixture(scope="module")
def seq(radiate_folder):
    return RadiateSequence(radiate_folder)


def test_stamp_fractions_are_nanosecond_counts(tmp_path):
    path = tmp_path / "velo_lidar.txt"
    path.write_text("Frame: 000018 Time: 1574859771.700975000\nFrame: 000019 Time: 1574859771.1053\n\n")
    assert read_timestamps(path) == {18: 1574859771_700975000, 19: 1574859771_000001053}
    path.write_text("Frame: 1 at noon\n")
    with pytest.raises(BadInputError, match="Frame: NNNNNN"):
        read_timestamps(path)


def test_lidar_axes_map_into_the_optical_frame_and_base_link():
    # no rotation offsets: velodyne y (forward) is the optical z, z (up) is -y
    T = sensor_to_camera(np.zeros(3), [0.6, -0.12, 0.25], np.zeros(3), [0.34, -0.07, 0.29])
    forward = transform_points(T, np.array([[0.0, 10.0, 0.0]]))[0]
    np.testing.assert_allclose(forward, [0.26, 0.04, 10.0 - 0.05], atol=1e-9)
    np.testing.assert_allclose(transform_points(T_BASE_VELODYNE, np.array([[1.0, 2.0, 3.0]]))[0], [2.0, -1.0, 3.0])


def test_sweep_fraction_follows_a_clockwise_turn():
    azimuth = np.radians([-166.0, 180.0, 90.0, 0.0, -90.0, -165.0])
    points = np.column_stack([np.cos(azimuth), np.sin(azimuth)])
    np.testing.assert_allclose(sweep_fraction(points), [0.0, 14 / 360, 104 / 360, 194 / 360, 284 / 360, 359 / 360])


def test_trajectory_interpolates_and_extrapolates_at_constant_velocity():
    yaw = make_transform(cv2.Rodrigues(np.array([0.0, 0.0, 0.2]))[0], [1.0, 0.0, 0.0])
    trajectory = Trajectory(np.array([0, 100], np.int64), np.stack([np.eye(4), yaw]))
    half = trajectory.at(50)
    np.testing.assert_allclose(half[:3, 3], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(cv2.Rodrigues(half[:3, :3])[0].ravel(), [0.0, 0.0, 0.1], atol=1e-12)
    np.testing.assert_allclose(trajectory.at(np.array([200]))[0][:3, 3], [2.0, 0.0, 0.0])


def test_calibration_reads_millimetres_and_both_cameras(seq):
    calibration = read_calibration(seq.calibration_path)
    assert calibration.size == (672, 376)
    np.testing.assert_allclose(calibration.T_stereo, [-0.1207469, 0.0001726, 0.0011592])
    rect = stereo_rectification(calibration)
    assert rect.baseline_m == pytest.approx(0.1208, abs=1e-4)
    assert rect.left.fx == rect.right.fx and rect.left.cy == rect.right.cy and rect.left.rectified
    assert not rect.left_raw.rectified and rect.left_raw.is_distorted


def _row_offsets(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Vertical offsets (right - left, px) of features tracked from the left to the right image."""
    clahe = cv2.createCLAHE(4.0, (8, 8))
    a, b = (clahe.apply(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)) for image in (left, right))
    found = cv2.goodFeaturesToTrack(a, 2000, 0.002, 5)
    tracked, ok, _ = cv2.calcOpticalFlowPyrLK(a, b, found, None, winSize=(15, 15), maxLevel=3)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(b, a, tracked, None, winSize=(15, 15), maxLevel=3)
    good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (np.linalg.norm(back - found, axis=2)[:, 0] < 0.3)
    dy = tracked[good, 0, 1] - found[good, 0, 1]
    dx = found[good, 0, 0] - tracked[good, 0, 0]
    return dy[(dx > -0.5) & (dx < 60) & (np.abs(dy) < 20)]


def test_rectified_pairs_put_matching_features_on_the_same_row(seq):
    """Epipolar check: features tracked left -> right lie on the same rows after rectification
    (13 px apart on the raw images); the correction is what brings the rows together."""
    indices = seq.trainable[::3]
    raw = [seq.raw_images(i) for i in indices]
    raw_dy = np.concatenate([_row_offsets(*pair) for pair in raw])
    rectified_dy = np.concatenate([_row_offsets(*seq.rectification.rectify(*pair)) for pair in raw])
    uncorrected = stereo_rectification(seq.calibration, correction_deg=(0.0, 0.0, 0.0))
    file_dy = np.concatenate([_row_offsets(*uncorrected.rectify(*pair)) for pair in raw])
    print(f"rows apart, median: raw {np.median(raw_dy):.2f}, file calibration {np.median(file_dy):.2f}, "
          f"corrected {np.median(rectified_dy):.2f} px ({rectified_dy.size} features)")
    assert rectified_dy.size > 100
    assert abs(np.median(raw_dy)) > 10
    assert abs(np.median(rectified_dy)) < 0.5 < abs(np.median(file_dy))
    assert STEREO_CORRECTION_DEG != (0.0, 0.0, 0.0)


def test_pairs_meet_their_nearest_sweep_and_the_split_is_disjoint(seq):
    assert len(seq.pairs) == 50 and len(seq.sweeps) == 42
    sweep_ns = np.array([s.stamp_ns for s in seq.sweeps])
    for pair in seq.pairs:
        assert abs(pair.stamp_ns - sweep_ns[pair.sweep]) <= 50_000_000  # 10 Hz sweeps
    assert seq.held_out == list(range(50 - HELD_OUT_PAIRS, 50))
    assert set(seq.trainable).isdisjoint(seq.held_out) and len(seq.trainable) >= 20
    first_held_out = seq.pairs[seq.held_out[0]].stamp_ns
    for i in seq.trainable:
        assert all(seq.sweeps[k].stamp_ns < first_held_out for k in seq.window(i))


def test_lidar_odometry_drives_at_the_gps_speed(seq):
    """The GPS twist says 9.5-12.6 m/s (its clock is 63 s off, so only its speed can be compared)."""
    positions = seq.trajectory.T_world_lidar[:, :3, 3]
    seconds = np.diff([s.stamp_ns for s in seq.sweeps]) * 1e-9
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=1) / seconds
    assert 8.0 < np.median(speed) < 12.6 and speed.min() > 5.0 and speed.max() < 14.0
    # sweeps lie in the car's frame: forward is velodyne +y
    assert np.all(positions[-1, 1] > 30.0)


def test_find_radiate_takes_a_snapshot_root_or_the_sequence_folder(tmp_path):
    from depth_completion_ros.datasets.radiate import find_radiate

    sequence = tmp_path / "data" / "radiate" / "tiny_foggy"
    for sensor in ("zed_left", "velo_lidar"):
        (sequence / sensor).mkdir(parents=True)
    assert find_radiate(root=tmp_path) == sequence.resolve()
    assert find_radiate(root=sequence) == sequence.resolve()
    assert find_radiate(root=tmp_path / "data") is None
