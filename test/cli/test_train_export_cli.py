"""``dcr train cache``, ``dcr export`` and ``dcr complete --method learned`` (shipped weights)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, write_frame
from depth_completion_ros.datasets.shared_data import find_shared_data
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.checkpoint import read_checkpoint, save_checkpoint
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.datasets.cached_frame import CachedFrame, cache_files

REDWOOD = find_shared_data("redwood_rgbd", Path(__file__).resolve().parents[2])


@pytest.mark.slow
def test_train_cache_writes_loadable_frames_and_resumes(tmp_path, capsys):
    out = tmp_path / "cache"
    extra = ["--tum-rgbd", str(REDWOOD / "other_formats"), "--rgbd-variants", "1"] if REDWOOD else []
    assert main(["train", "cache", "--out", str(out), "--frames", "1", "--seed", "5", *extra]) == 0
    files = cache_files(out)
    assert len(files) == (2 if REDWOOD else 1)
    for path in files:
        frame = CachedFrame.load(path)
        assert frame.points.shape[1] == 3 and frame.points.shape[0] == frame.ring.shape[0] > 100
        assert frame.rgb.shape[:2] == frame.depth.shape == (frame.camera.height, frame.camera.width)
    stamp = files[0].stat().st_mtime_ns
    assert main(["train", "cache", "--out", str(out), "--frames", "1", "--seed", "5"]) == 0
    assert files[0].stat().st_mtime_ns == stamp  # existing frames are kept


def test_export_onnx_and_pt(tmp_path, capsys):
    torch.manual_seed(0)
    net = CompletionNet(PRESETS["tiny"])
    weights = save_checkpoint(tmp_path / "tiny.pt", "completion", net, optimizer={"state": {}, "param_groups": []})
    assert main(["export", "--format", "onnx", "--weights", str(weights), "--output", str(tmp_path / "t.onnx"),
                 "--width", "64", "--height", "32"]) == 0
    assert "max |depth difference|" in capsys.readouterr().out
    assert main(["export", "--format", "pt", "--weights", str(weights), "--output", str(tmp_path / "t2.pt")]) == 0
    assert "optimizer" in read_checkpoint(weights) and "optimizer" not in read_checkpoint(tmp_path / "t2.pt")
    assert main(["export", "--weights", str(weights), "--output", str(tmp_path / "x.onnx"), "--width", "60"]) == 2


def test_complete_with_the_learned_method_and_shipped_weights(tmp_path):
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random((64, 96)) < 0.1, rng.uniform(2, 60, (64, 96)), 0).astype(np.float32)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    camera = CameraModel.from_intrinsics(60, 60, 48, 32, 96, 64)
    write_frame(tmp_path / "in", CompletionFrame("a.png", rgb, sparse, camera))
    assert main(["complete", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                 "--method", "learned", "--device", "cpu"]) == 0
    stored = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert stored.shape == (64, 96) and np.all(stored > 0)


@pytest.mark.slow
def test_train_cache_with_radar_on_the_nuscenes_rig(tmp_path):
    out = tmp_path / "cache"
    assert main(["train", "cache", "--out", str(out), "--frames", "1", "--seed", "7", "--rig", "nuscenes", "--radar",
                 "--rig-lidar", "--indoor-fraction", "0", "--camera-scale", "0.25"]) == 0
    frame = CachedFrame.load(cache_files(out)[0])
    assert frame.rgb.shape[:2] == (225, 400) == frame.semantic.shape
    assert frame.radar.shape[1] == 6 and frame.radar.shape[0] > 0
    assert frame.ring.max() < 32  # the rig's own HDL-32E: single-sweep supervision
    assert set(np.unique(frame.semantic)) <= set(range(6)) and frame.semantic.max() > 0


def test_radar_networks_export_to_pt_only(tmp_path, capsys):
    weights = save_checkpoint(tmp_path / "radar.pt", "completion", CompletionNet(PRESETS["radar_tiny"]))
    assert main(["export", "--weights", str(weights), "--output", str(tmp_path / "r.onnx"), "--width", "64",
                 "--height", "32"]) == 2
    assert "torch only" in capsys.readouterr().err
    assert main(["export", "--format", "pt", "--weights", str(weights), "--output", str(tmp_path / "r2.pt")]) == 0


def test_export_blends_a_fine_tuned_network_with_its_base(tmp_path, capsys):
    torch.manual_seed(0)
    tuned = save_checkpoint(tmp_path / "tuned.pt", "completion", CompletionNet(PRESETS["tiny"]))
    base = save_checkpoint(tmp_path / "base.pt", "completion", CompletionNet(PRESETS["tiny"]))
    out = tmp_path / "blend.pt"
    assert main(["export", "--format", "pt", "--weights", str(tuned), "--blend-with", str(base), "--blend", "0.8",
                 "--output", str(out)]) == 0
    assert "blended 0.8 : 0.2" in capsys.readouterr().out
    t, b, o = (read_checkpoint(p) for p in (tuned, base, out))
    for key, value in o["state_dict"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.8 * t["state_dict"][key] + 0.2 * b["state_dict"][key])
        else:
            assert torch.equal(value, t["state_dict"][key])
    assert o["progress"]["blend"] == 0.8 and o["progress"]["blended_with"] == str(base)
    assert main(["export", "--weights", str(tuned), "--blend-with", str(base), "--blend", "0.5",
                 "--output", str(tmp_path / "b.onnx"), "--width", "64", "--height", "32"]) == 0
    other = save_checkpoint(tmp_path / "other.pt", "completion", CompletionNet(PRESETS["small"]))
    for bad, says in ((["--blend-with", str(other)], "architecture mismatch"), (["--blend", "0.5"], "needs --blend-with"),
                      (["--blend-with", str(base), "--blend", "1.5"], r"not in \[0, 1\]")):
        assert main(["export", "--format", "pt", "--weights", str(tuned), *bad, "--output", str(tmp_path / "x.pt")]) == 2
        assert re.search(says, capsys.readouterr().err)
