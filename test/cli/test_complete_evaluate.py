"""``dcr complete`` and ``dcr evaluate``: the file contract, bad input, and a real-data run."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets.kitti import read_depth_png, write_depth_png
from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, write_frame
from depth_completion_ros.datasets.kitti_protocol import build_protocol
from depth_completion_ros.datasets.ring_protocol import write_protocol
from depth_completion_ros.datasets.shared_data import find_shared_data
from depth_completion_ros.eval.baselines import nearest_fill
from depth_completion_ros.eval.metrics import DepthRange, MetricAccumulator
from depth_completion_ros.geometry.camera import CameraModel

KITTI_OBJECT = find_shared_data("kitti_object", Path(__file__).resolve().parents[2])
NAMES = ("a", "b", "c")


def _frame(name: str, seed: int) -> CompletionFrame:
    rng = np.random.default_rng(seed)
    sparse = np.where(rng.random((24, 40)) < 0.2, rng.uniform(2, 60, (24, 40)), 0).astype(np.float32)
    rgb = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    return CompletionFrame(f"{name}.png", rgb, sparse, CameraModel.from_intrinsics(50, 50, 20, 12, 40, 24))


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "input"
    for seed, name in enumerate(NAMES):
        frame = _frame(name, seed)
        write_frame(root, frame, ground_truth=frame.sparse)
    return root


def _complete(root: Path, out: Path, *extra: str) -> int:
    return main(["complete", "--input", str(root), "--output", str(out), "--device", "cpu", *extra])


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


def test_complete_writes_one_uint16_png_per_scan(layout, tmp_path, capsys):
    out = tmp_path / "out"
    assert _complete(layout, out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    stored = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16 and stored.shape == (24, 40) and np.all(stored > 0)
    assert "time per frame" in capsys.readouterr().out


def test_confidence_is_written_when_asked_and_classical_never_decodes_the_image(layout, tmp_path):
    (layout / "image" / "b.png").write_bytes(b"not a png")  # classical does not use the image
    out, confidence = tmp_path / "out", tmp_path / "confidence"
    assert _complete(layout, out, "--confidence", str(confidence)) == 0
    for name in ("a.png", "b.png", "c.png"):
        depth = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        stored = cv2.imread(str(confidence / name), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint16 and stored.shape == depth.shape
        assert np.all(stored[depth == 0] == 0) and stored.max() > 0
    assert _complete(layout, tmp_path / "learned", "--method", "learned") == 1  # the learned method reads it


def _remove_image(root: Path) -> Path:
    (root / "image" / "b.png").unlink()
    return root / "image" / "b.png"


def _extra_intrinsics(root: Path) -> Path:
    (root / "intrinsics" / "z.txt").write_text("1 0 0 0 1 0 0 0 1\n")
    return root / "intrinsics" / "z.txt"


def _smaller_image(root: Path) -> Path:
    cv2.imwrite(str(root / "image" / "b.png"), np.zeros((20, 40, 3), np.uint8))
    return root / "image" / "b.png"


def _eight_bit_scan(root: Path) -> Path:
    cv2.imwrite(str(root / "velodyne_raw" / "b.png"), np.zeros((24, 40), np.uint8))
    return root / "velodyne_raw" / "b.png"


def _garbled_intrinsics(root: Path) -> Path:
    (root / "intrinsics" / "b.txt").write_text("fx fy cx cy\n")
    return root / "intrinsics" / "b.txt"


@pytest.mark.parametrize(
    "break_input, fix, method",
    [
        (_remove_image, "add the RGB image", "classical"),
        (_extra_intrinsics, "add the scan or remove", "classical"),
        (_smaller_image, "same size", "learned"),  # classical does not read the image
        (_eight_bit_scan, "uint16", "classical"),
        (_garbled_intrinsics, "9 numbers", "classical"),
    ],
)
def test_bad_input_names_the_file_and_the_fix_and_keeps_the_other_outputs(layout, tmp_path, capsys, break_input, fix,
                                                                           method):
    bad_file = break_input(layout)
    out = tmp_path / "out"
    assert _complete(layout, out, "--method", method) == 1
    errors = _error_lines(capsys.readouterr().err)
    naming = [line for line in errors if str(bad_file) in line]
    assert len(naming) == 1 and fix in naming[0]
    assert {"a.png", "c.png"} <= {p.name for p in out.iterdir()}


def test_missing_input_folder_or_unknown_method_fail_before_any_work(layout, tmp_path, capsys):
    assert _complete(tmp_path / "nowhere", tmp_path / "out") == 2
    assert _complete(layout, tmp_path / "out", "--method", "magic") == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 2 and "folder not found" in errors[0] and "magic" in errors[1]
    assert not (tmp_path / "out").exists()


def _evaluate(pred: Path, gt: Path, *extra: str) -> int:
    return main(["evaluate", "--pred", str(pred), "--gt", str(gt), *extra])


def test_evaluate_prints_the_table_and_writes_json(layout, tmp_path, capsys):
    report = tmp_path / "metrics.json"
    assert _evaluate(layout / "velodyne_raw", layout / "groundtruth_depth", "--json", str(report)) == 0
    assert "0-20m" in capsys.readouterr().out
    data = json.loads(report.read_text())
    groups = {g["name"]: g for g in data["groups"]}
    assert groups["all"]["rmse_mm"] == 0.0 and groups["all"]["images"] == 3  # prediction = ground truth
    assert set(groups) == {"all", "0-20m", "20-40m", "40-80m", "cap50m", "cap70m", "cap80m"}
    assert set(data["per_image"]) == {"a.png", "b.png", "c.png"}


def test_evaluate_takes_configured_ranges(layout, tmp_path):
    report = tmp_path / "metrics.json"
    assert _evaluate(layout / "velodyne_raw", layout / "groundtruth_depth", "--ranges", "0-30,30-100",
                     "--caps", "40", "--json", str(report)) == 0
    names = [g["name"] for g in json.loads(report.read_text())["groups"]]
    assert names == ["all", "0-30m", "30-100m", "cap40m"]


def _drop_prediction(pred: Path) -> Path:
    (pred / "b.png").unlink()
    return pred / "b.png"


def _extra_prediction(pred: Path) -> Path:
    write_depth_png(pred / "z.png", np.ones((24, 40), np.float32))
    return pred / "z.png"


def _wrong_size_prediction(pred: Path) -> Path:
    write_depth_png(pred / "b.png", np.ones((12, 40), np.float32))
    return pred / "b.png"


def _eight_bit_prediction(pred: Path) -> Path:
    cv2.imwrite(str(pred / "b.png"), np.ones((24, 40), np.uint8))
    return pred / "b.png"


@pytest.mark.parametrize(
    "break_pred, fix",
    [(_drop_prediction, "run dcr complete"), (_extra_prediction, "remove it"),
     (_wrong_size_prediction, "ground truth's size"), (_eight_bit_prediction, "uint16")],
)
def test_evaluate_bad_input_names_the_file(layout, tmp_path, capsys, break_pred, fix):
    pred = tmp_path / "pred"
    assert _complete(layout, pred) == 0
    bad_file = break_pred(pred)
    capsys.readouterr()
    assert _evaluate(pred, layout / "groundtruth_depth") == 1
    captured = capsys.readouterr()
    naming = [line for line in _error_lines(captured.err) if str(bad_file) in line]
    assert len(naming) == 1 and fix in naming[0]
    assert "2 image(s) evaluated" in captured.out or "3 image(s) evaluated" in captured.out


@pytest.mark.slow
@pytest.mark.skipif(KITTI_OBJECT is None, reason="shared sample data ../shared/data/kitti_object is absent")
def test_commands_run_on_the_real_data_protocol(tmp_path, capsys):
    root = write_protocol(build_protocol(KITTI_OBJECT), tmp_path / "protocol")
    pred, report = tmp_path / "pred", tmp_path / "metrics.json"
    assert _complete(root, pred, "--method", "classical") == 0
    assert _evaluate(pred, root / "groundtruth_depth", "--json", str(report)) == 0
    ours = {g["name"]: g for g in json.loads(report.read_text())["groups"]}["all"]
    # the nearest-neighbour fill of the same stored input, scored by the same code
    baseline = MetricAccumulator([DepthRange("all")])
    for scan in sorted((root / "velodyne_raw").glob("*.png")):
        baseline.add(nearest_fill(read_depth_png(scan)), read_depth_png(root / "groundtruth_depth" / scan.name))
    assert ours["images"] == 3 and ours["coverage"] == 1.0
    assert ours["rmse_mm"] < baseline.summaries()[0].values["rmse_mm"]
