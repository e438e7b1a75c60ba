"""``dcr occupancy`` on simulator frames written in the KITTI odometry layout."""

import numpy as np
import pytest

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets.semantic_kitti import read_bits, read_labels
from depth_completion_ros.eval.occupancy import write_odometry_sequence
from depth_completion_ros.geometry.voxels import OCCUPIED, VoxelGrid, touches
from depth_completion_ros.models.checkpoint import save_checkpoint
from depth_completion_ros.models.occupancy import KIND, OccDepthConfig, OccDepthNet
from depth_completion_ros.pipeline.occupancy import insert_points
from depth_completion_ros.sim.dataset import SimDataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    dataset = SimDataset(2, "street", "kitti", seed=11, outputs=("stereo", "lidar", "occupancy"))
    frames = [dataset.frame(i) for i in range(2)]
    return write_odometry_sequence(frames, tmp_path_factory.mktemp("sequence")), frames


def _run(sequence_dir, out, *extra) -> int:
    return main(["occupancy", "--left", str(sequence_dir / "image_2"), "--right", str(sequence_dir / "image_3"),
                 "--calib", str(sequence_dir / "calib.txt"), "--out", str(out), "--device", "cpu", *extra])


def test_lidar_method_writes_the_voxelized_scans(sequence, tmp_path):
    sequence_dir, frames = sequence
    assert _run(sequence_dir, tmp_path, "--method", "lidar", "--velodyne", str(sequence_dir / "velodyne")) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000.bin", "000001.bin"]
    for index, frame in enumerate(frames):
        written = read_bits(tmp_path / f"{index:06d}.bin")
        expected = insert_points(VoxelGrid(), frame.lidar_points, np.zeros(3)).state == OCCUPIED
        np.testing.assert_array_equal(written, expected)
    labels = read_labels(sequence_dir / "voxels" / "000000.label")
    assert labels.shape == (256, 256, 32) and labels.max() <= 19


def test_sgbm_method_puts_voxels_on_the_true_surfaces(sequence, tmp_path):
    sequence_dir, frames = sequence
    assert _run(sequence_dir, tmp_path, "--method", "sgbm") == 0
    for index, frame in enumerate(frames):
        occupied = read_bits(tmp_path / f"{index:06d}.bin")
        assert np.count_nonzero(occupied) > 1000
        near_truth = (frame.occupancy.labels > 0) | touches(frame.occupancy.labels > 0)
        # stereo depth is noisy, but wrong calibration or frames would put most voxels in the air
        # (every matched pixel marks its voxel: 0.83 / 0.68 of the voxels here, with 1.5x the
        # true surface voxels of the old every-other-pixel insert, which had 0.84 / 0.70)
        assert np.mean(near_truth[occupied]) > 0.65


def test_occdepth_method_runs_with_a_weights_file(sequence, tmp_path):
    sequence_dir, _ = sequence
    config = OccDepthConfig(encoder_channels=(4, 6, 8), sfa_channels=4, max_disparity=4, voxel_channels=(4, 4, 4))
    weights = tmp_path / "tiny.pt"
    save_checkpoint(weights, KIND, OccDepthNet(config))
    out = tmp_path / "out"
    assert _run(sequence_dir, out, "--method", "occdepth", "--weights", str(weights)) == 0
    assert read_bits(out / "000001.bin").shape == (256, 256, 32)


def test_learned_geometry_method_runs_with_a_weights_file(sequence, tmp_path):
    from depth_completion_ros.models.occupancy_geometry import KIND as GEOMETRY_KIND
    from depth_completion_ros.models.occupancy_geometry import GeometryNetConfig, GeometryOccNet

    sequence_dir, _ = sequence
    weights = save_checkpoint(tmp_path / "geometry.pt", GEOMETRY_KIND, GeometryOccNet(GeometryNetConfig(widths=(4, 4, 4))))
    out = tmp_path / "out"
    assert _run(sequence_dir, out, "--method", "learned", "--weights", str(weights)) == 0
    assert read_bits(out / "000001.bin").shape == (256, 256, 32)


def test_lidar_method_without_scans_is_refused(sequence, tmp_path, capsys):
    sequence_dir, _ = sequence
    assert _run(sequence_dir, tmp_path, "--method", "lidar") == 2
    assert "--velodyne" in capsys.readouterr().err
