"""The real KITTI raw protocol: fixed split, densities, and one real frame when the snapshot is present."""

import numpy as np
import pytest

from depth_completion_ros.datasets.kitti_raw import (
    DENSITIES,
    TRAINING_FRAMES,
    VALIDATION_FRAMES,
    build_raw_protocol,
    find_kitti_raw,
    frame_stems,
)
from depth_completion_ros.errors import BadInputError


def test_the_split_is_fixed_disjoint_and_never_uses_the_partial_last_scan(tmp_path):
    scans = tmp_path / "velodyne_points" / "data"
    scans.mkdir(parents=True)
    for i in range(78):
        (scans / f"{i:010d}.bin").touch()
    training, validation = frame_stems(tmp_path, "training"), frame_stems(tmp_path, "validation")
    assert len(training) == TRAINING_FRAMES and len(validation) == VALIDATION_FRAMES
    assert training[-1] < validation[0] and validation[-1] == f"{76:010d}"  # frame 77 is partial
    with pytest.raises(BadInputError, match="'test' is not one of"):
        frame_stems(tmp_path, "test")
    (scans / f"{77:010d}.bin").unlink()
    (scans / f"{76:010d}.bin").unlink()
    with pytest.raises(BadInputError, match="expected the snapshot's 78"):
        frame_stems(tmp_path, "training")
    with pytest.raises(BadInputError, match="'4-beam' is not one of"):
        build_raw_protocol(tmp_path, "4-beam")


@pytest.mark.skipif(find_kitti_raw() is None, reason="KITTI raw snapshot not extracted (see datasets/kitti_raw.py)")
def test_a_real_validation_frame_at_every_density_projects_into_the_crop(monkeypatch):
    import depth_completion_ros.datasets.kitti_raw as kitti_raw

    monkeypatch.setattr(kitti_raw, "VALIDATION_FRAMES", 1)
    counts = {}
    for density in DENSITIES:
        (frame,) = build_raw_protocol(find_kitti_raw(), density)
        assert frame.frame.rgb.shape == (352, 1216, 3) and frame.ground_truth.shape == (352, 1216)
        sparse, truth = frame.frame.sparse > 0, frame.ground_truth > 0
        assert truth.sum() > 5_000 and sparse.sum() > 1_000
        counts[density] = int(sparse.sum())
    assert counts["8-beam"] < counts["16-beam"] < counts["32-beam"] and counts["16-beam"] < counts["half"]


@pytest.mark.skipif(find_kitti_raw() is None, reason="KITTI raw snapshot not extracted (see datasets/kitti_raw.py)")
def test_a_cached_training_frame_validates_as_the_16_beam_protocol(tmp_path):
    from depth_completion_ros.datasets.kitti_protocol import protocol_frame
    from depth_completion_ros.datasets.kitti_raw import CALIBRATION, cached_frame
    from depth_completion_ros.training.samples import evaluation_input
    from depth_completion_ros.datasets.cached_frame import CachedFrame

    root, stem = find_kitti_raw(), frame_stems(find_kitti_raw(), "tuning")[0]
    cached_frame(root, stem).save(tmp_path / "frame.npz")
    rgb, sparse, truth, _ = evaluation_input(CachedFrame.load(tmp_path / "frame.npz"))
    expected = protocol_frame(root / "image_02" / "data" / f"{stem}.png", root / "velodyne_points" / "data" /
                              f"{stem}.bin", CALIBRATION, DENSITIES["16-beam"])
    np.testing.assert_array_equal(rgb, expected.frame.rgb)
    # points stored as float32 move a pixel or two by rounding; the depth is stored as float16
    assert np.mean(np.abs(sparse - expected.frame.sparse) > 1e-3) < 1e-4
    assert np.mean(np.abs(truth - expected.ground_truth) > 0.05) < 1e-4
    assert (sparse > 0).sum() > 1000 and (truth > 0).sum() > 5000
