"""``dcr convert radiate`` writes a bag that ``dcr eval`` scores like the benchmark does
(real RADIATE data; skipped when absent)."""

import json
from pathlib import Path

import numpy as np
import pytest

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets.radiate import ZED_GRID, RadiateSequence
from depth_completion_ros.datasets.semantic_kitti import SSCMetrics
from depth_completion_ros.eval.occupancy import predicted_labels
from depth_completion_ros.eval.radiate import occupancy_target, stereo_frame
from depth_completion_ros.pipeline.occupancy_methods import create_occupancy_method

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAIRS = 2


@pytest.fixture(scope="module")
def folder(radiate_folder):
    return radiate_folder


def test_converted_held_out_pairs_are_scored_by_dcr_eval_as_by_the_benchmark(folder, tmp_path, capsys):
    bag, report = tmp_path / "foggy", tmp_path / "report"
    assert main(["convert", "radiate", str(folder), "--split", "held-out", "--max-frames", str(PAIRS),
                 "--out", str(bag)]) == 0
    counts = capsys.readouterr().out
    for line in (f"{PAIRS}  /occupancy/ground_truth", f"{PAIRS}  /camera/right/image_rect", "/lidar/points"):
        assert line in counts
    assert main(["eval", str(bag), "--out", str(report), "--gt-depth-topic", "none",
                 "--gt-occupancy-topic", "/occupancy/ground_truth",
                 "--config", str(REPO / "config" / "stereo_occupancy_radiate.yaml")]) == 0
    scored = json.loads((report / "metrics.json").read_text())["occupancy"]["sgbm"]
    assert scored["frames"] == PAIRS

    seq = RadiateSequence(folder)
    sgbm, metrics = create_occupancy_method("sgbm", device="cpu"), SSCMetrics()
    for index in seq.held_out[:PAIRS]:
        target = occupancy_target(seq, index)
        metrics.add(predicted_labels(sgbm(stereo_frame(seq, index), ZED_GRID)), target.labels, target.invalid)
    direct = metrics.summary()
    print(f"dcr eval IoU {scored['iou']:.4f}, direct {direct['iou']:.4f}")
    assert direct["iou"] > 0.02
    for key in ("iou", "precision", "recall"):  # the bag's TF and CameraInfo round trip moves a few voxels
        assert scored[key] == pytest.approx(direct[key], abs=0.01), key


def test_a_folder_that_is_not_a_sequence_is_refused(tmp_path, capsys):
    assert main(["convert", "radiate", str(tmp_path), "--out", str(tmp_path / "bag")]) == 2
    assert "zed_left" in capsys.readouterr().err
    assert not (tmp_path / "bag").exists()
