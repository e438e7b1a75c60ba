import copy

import numpy as np
import pytest
import yaml

from depth_completion_ros.eval.occupancy import evaluate, format_report
from depth_completion_ros.geometry.voxels import FREE, OCCUPIED, downsample_labels
from depth_completion_ros.models.occupancy_data import learning_ids
from depth_completion_ros.sim.dataset import SimDataset
from depth_completion_ros.sim.rig import rig_config_path, rig_from_dict


@pytest.fixture(scope="module")
def frames():
    with open(rig_config_path("kitti"), encoding="utf-8") as stream:
        config = copy.deepcopy(yaml.safe_load(stream))
    config["camera"].update(width=310, height=94, fx=180.0, fy=180.0, cx=154.5, cy=43.0)
    config["lidar"]["model"] = "VLP-16"
    config["occupancy"] = {"origin": [0.0, -6.4, -2.0], "resolution": 0.2, "shape": [64, 64, 16]}
    return SimDataset(1, "street", rig_from_dict(config), seed=4, outputs=("stereo", "lidar", "occupancy"))


def test_evaluate_scores_the_ground_truth_perfectly_and_nothing_at_zero(frames):
    truth = frames.frame(0).occupancy

    def oracle(frame, grid):
        factor = int(round(grid.resolution / truth.grid.resolution))
        labels, _ = downsample_labels(learning_ids(truth.labels), truth.invalid, factor)
        return grid.with_values(state=np.where(labels > 0, OCCUPIED, FREE).astype(np.uint8), labels=labels)

    def nothing(frame, grid):
        return grid.with_values(state=np.full(grid.shape, FREE, np.uint8))

    report = evaluate({"oracle": oracle, "nothing": nothing}, frames, log=lambda line: None)
    assert set(report) == {"64x64x16@0.2m", "32x32x8@0.4m"}
    for grid in report.values():
        assert grid["oracle"]["iou"] == pytest.approx(1.0) and grid["oracle"]["miou"] == pytest.approx(1.0)
        assert grid["nothing"]["iou"] == 0.0 and np.isnan(grid["nothing"]["miou"])
    table = format_report(report)
    assert "| 32x32x8@0.4m | nothing | 0.000 |" in table and "n/a" in table
