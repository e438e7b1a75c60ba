"""`dcr eval` offline and live on a simulated bag, bad bags, and Ray workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.geometry.transforms import xyz_quat_from_transform

pytestmark = pytest.mark.slow


def dcr(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "depth_completion_ros.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def per_frame_rmse(report: Path) -> dict[tuple[str, int], float]:
    rows = (report / "frames.csv").read_text().splitlines()[1:]
    out = {}
    for row in rows:
        bag, stamp, method, *_, rmse = row.split(",")[:7]
        out[(method, int(stamp))] = float(rmse)
    return out


def copy_bag_without(source: Path, out: Path, drop_topics: set[str]) -> Path:
    """A copy of a bag without some topics (e.g. its calibration)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    with Bag(source) as bag, Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {}
        for topic, (msgtype, _) in bag.topics.items():
            if topic not in drop_topics:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
        for message in bag.messages(list(connections), deserialize=False):
            writer.write(connections[message.topic], message.log_time_ns, message.raw)
    return out


def sparse_dots_on_the_rgb_panel(picture: Path, bag: Path, label_rows: int = 32) -> np.ndarray:
    """(N, 3) colours of the pixels where the depth picture's RGB panel (below its label)
    differs from the bag image it shows: the drawn LiDAR points."""
    from depth_completion_ros.datasets.messages import image_to_rgb

    with Bag(bag) as source:
        images = [image_to_rgb(m.msg) for m in source.messages(["/camera/left/image_rect"])]
    panel = cv2.cvtColor(cv2.imread(str(picture)), cv2.COLOR_BGR2RGB)[label_rows:images[0].shape[0]]
    shown = min(images, key=lambda image: np.count_nonzero(np.any(image[label_rows:] != panel, axis=2)))
    return panel[np.any(shown[label_rows:] != panel, axis=2)]


@pytest.fixture(scope="module")
def offline_report(sim_bag, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("offline")
    result = dcr("eval", str(sim_bag), "--out", str(out), "--methods", "classical,ip_basic")
    assert result.returncode == 0, result.stderr
    assert "classical" in result.stdout and "report:" in result.stdout
    return out


def test_offline_report_has_metrics_frames_and_pictures(offline_report, sim_bag):
    metrics = json.loads((offline_report / "metrics.json").read_text())
    assert metrics["sweeps"] == 6 and metrics["problems"] == []
    by_method = {row["method"]: row for row in metrics["summary"]}
    assert set(by_method) == {"classical", "ip_basic"}
    assert by_method["classical"]["frames"] == 6 and 0 < by_method["classical"]["rmse_mm"] < 20_000
    assert [r["name"] for r in metrics["by_range"]["classical"]][:4] == ["all", "0-20m", "20-40m", "40-80m"]
    html = (offline_report / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # depth panels and the error-vs-range plot
    assert (offline_report / "error_vs_range.png").stat().st_size > 1000
    dots = sparse_dots_on_the_rgb_panel(offline_report / "pictures" / "depth_classical.png", sim_bag)
    assert len(dots) > 100 and len(np.unique(dots, axis=0)) > 10
    assert len((offline_report / "frames.csv").read_text().splitlines()) == 1 + 2 * 6


# Non-default node parameters (depth range, the radar prior's camera height and pitch) in the
# --config both modes read; the radar-camera rig has no LiDAR topic (one frame per image).
AGREEMENT_PARAMETERS = {"max_depth": 40.0, "min_depth": 1.0, "camera_height": 1.5, "camera_pitch_deg": 1.0}
RIGS = {"lidar": [], "radar_only": ["--lidar-topic", "none", "--radar-topic", "/radar/points",
                                    "--methods", "radar_geometric"]}


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_live_mode_agrees_with_offline_with_non_default_parameters(sim_bag, tmp_path, ros_domain_id, rig):
    config = tmp_path / "params.yaml"
    config.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": AGREEMENT_PARAMETERS}}))
    common_args = [str(sim_bag), "--config", str(config), *RIGS[rig]]
    offline_out, live_out = tmp_path / "offline", tmp_path / "live"
    offline_run = dcr("eval", *common_args, "--out", str(offline_out))
    assert offline_run.returncode == 0, offline_run.stderr
    result = dcr("eval", *common_args, "--out", str(live_out), "--mode", "live")
    assert result.returncode == 0, result.stderr + result.stdout
    live, offline = per_frame_rmse(live_out), per_frame_rmse(offline_out)
    common = [key for key in live if key in offline]
    assert len(offline) == 6 and len(common) >= 4, (live, offline)
    for key in common:
        assert live[key] == pytest.approx(offline[key], rel=1e-6)
    method = "classical" if rig == "lidar" else "radar_geometric"
    metrics = json.loads((live_out / "metrics.json").read_text())
    row = metrics["summary"][0]
    assert row["method"] == method and row["latency_ms_median"] is not None and row["latency_ms_median"] > 0
    # why sweeps went unanswered: the node's own drops by reason, from its diagnostics
    assert method in metrics["node_drops"]
    assert f"node drops ({method}, from its diagnostics):" in result.stdout
    assert f"node drops ({method}" in (live_out / "report.md").read_text()
    if rig == "lidar":  # the picture shows the node's LiDAR input on the RGB panel, coloured by depth
        dots = sparse_dots_on_the_rgb_panel(live_out / "pictures" / "depth_classical.png", sim_bag)
        assert len(dots) > 100 and len(np.unique(dots, axis=0)) > 10


def test_without_ground_truth_it_still_reports_timing_and_coverage(sim_bag, tmp_path):
    result = dcr("eval", str(sim_bag), "--out", str(tmp_path), "--gt-depth-topic", "none")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["summary"][0]["frames"] == 6 and metrics["summary"][0]["rmse_mm"] is None
    assert metrics["summary"][0]["inference_ms_median"] > 0


def test_holdout_rings_as_ground_truth(sim_bag, tmp_path):
    result = dcr("eval", str(sim_bag), "--out", str(tmp_path), "--gt-depth-topic", "none", "--holdout-every", "4")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["summary"][0]["rmse_mm"] > 0


def test_missing_topic_is_one_clear_line(sim_bag, tmp_path):
    result = dcr("eval", str(sim_bag), "--out", str(tmp_path), "--lidar-topic", "/velodyne_points")
    assert result.returncode == 2 and "nothing was scored" in result.stderr  # nothing done: bad input
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and "/velodyne_points" in problems[0] and "/lidar/points" in problems[0]
    assert (tmp_path / "report.html").is_file()


def test_corrupt_and_truncated_bags_are_one_line_errors_and_what_was_readable_is_reported(sim_bag, tmp_path):
    corrupt = tmp_path / "corrupt.mcap"
    corrupt.write_bytes(b"\x89MCAP0\r\n" + b"garbage" * 1000)
    mcap = next(sim_bag.glob("*.mcap"))
    truncated_dir = tmp_path / "truncated"
    truncated_dir.mkdir()
    truncated = truncated_dir / "truncated.mcap"
    truncated.write_bytes(mcap.read_bytes()[: mcap.stat().st_size * 2 // 3])
    out = tmp_path / "report"
    result = dcr("eval", str(sim_bag), str(corrupt), str(truncated), "--out", str(out))
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem:")]
    assert any("corrupt.mcap" in p for p in problems) and any("truncated" in p for p in problems)
    assert all(len(p) < 400 for p in problems)
    assert any("cut off after" in p and "truncated.mcap" in p for p in problems)
    frames = (out / "frames.csv").read_text().splitlines()[1:]
    assert len([f for f in frames if f.startswith(str(sim_bag) + ",")]) == 6  # the good bag is still reported
    from_truncated = [f for f in frames if "truncated" in f]
    assert 1 <= len(from_truncated) < 6  # frames before the cut are kept


def test_missing_calibration_is_reported_per_frame(sim_bag, tmp_path):
    no_tf = copy_bag_without(sim_bag, tmp_path / "no_tf", {"/tf_static"})
    result = dcr("eval", str(no_tf), "--out", str(tmp_path / "report"))
    assert result.returncode == 2  # every frame lacked calibration: nothing scored
    assert "no transform camera_left_optical_frame <- velodyne" in result.stderr
    assert "'lidar_to_camera.matrix'" in result.stderr and "'lidar_to_camera.xyz'" in result.stderr
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["drops"]["bad_input"] == 6
    # the node's other parameter form, xyz + quaternion, is read as the node reads it
    with Bag(sim_bag) as bag:
        T = bag.static_transforms().lookup("camera_left_optical_frame", "velodyne")
    xyz, quaternion = xyz_quat_from_transform(T)
    config = tmp_path / "params.yaml"
    config.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": {"lidar_to_camera": {
        "xyz": [float(v) for v in xyz], "quaternion": [float(v) for v in quaternion]}}}}))
    result = dcr("eval", str(no_tf), "--out", str(tmp_path / "with_params"), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "with_params" / "metrics.json").read_text())["summary"][0]["frames"] == 6


def test_ray_workers_merge_bags_into_one_report(sim_bag, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(sim_bag, second)
    result = dcr("eval", str(sim_bag), str(second), "--out", str(tmp_path / "report"), "--workers", "2")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert sorted(Path(b).name for b in metrics["bags"]) == ["second", "street"]
    assert metrics["summary"][0]["frames"] == 12 and metrics["sweeps"] == 12


def test_occupancy_is_scored_against_the_bag_ground_truth_with_a_bev_picture(sim_bag, small_rig_file, tmp_path):
    import yaml

    occupancy = yaml.safe_load(small_rig_file.read_text())["occupancy"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"stereo_occupancy": {"ros__parameters": {"grid": {
        "frame_id": "velodyne", "origin": occupancy["origin"], "resolution": occupancy["resolution"],
        "shape": occupancy["shape"]}}}}))
    out = tmp_path / "report"
    result = dcr("eval", str(sim_bag), "--out", str(out), "--config", str(config),
                 "--gt-occupancy-topic", "/occupancy/ground_truth")
    assert result.returncode == 0, result.stderr
    assert "occupancy sgbm" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())["occupancy"]["sgbm"]
    assert metrics["frames"] == 6 and 0 < metrics["iou"] <= 1 and 0 < metrics["recall"] <= 1
    assert (out / "pictures" / "occupancy_bev_sgbm.png").is_file()
    assert "occupancy_bev_sgbm" in (out / "report.md").read_text()


def write_as(source: Path, out: Path, kind: str) -> Path:
    """The bag rewritten as ROS 2 sqlite3 or ROS 1 (without /tf: TFMessage has no ROS 1 twin here)."""
    from rosbags.rosbag1 import Writer as Ros1Writer

    jazzy = get_typestore(Stores.ROS2_JAZZY)
    noetic = get_typestore(Stores.ROS1_NOETIC)
    with Bag(source) as bag:
        topics = {t: m for t, (m, _) in bag.topics.items() if not m.startswith("tf2_msgs")}
        if kind == "sqlite3":
            writer = Writer(out, version=9, storage_plugin=StoragePlugin.SQLITE3)
        else:
            writer = Ros1Writer(out)
        with writer:
            connections = {t: writer.add_connection(t, m, typestore=jazzy if kind == "sqlite3" else noetic)
                           for t, m in topics.items()}
            for message in bag.messages(list(topics), deserialize=False):
                raw = message.raw if kind == "sqlite3" else jazzy.cdr_to_ros1(message.raw, message.msgtype)
                writer.write(connections[message.topic], message.log_time_ns, raw)
    return out


@pytest.mark.parametrize("kind", ["sqlite3", "ros1"])
def test_sqlite3_and_ros1_bags_give_the_same_metrics(sim_bag, offline_report, tmp_path, kind):
    import yaml

    with Bag(sim_bag) as bag:
        T = bag.static_transforms().lookup("camera_left_optical_frame", "velodyne")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": {
        "lidar_to_camera": {"matrix": [float(v) for v in T.ravel()]}}}}))
    other = write_as(sim_bag, tmp_path / ("bag_sqlite3" if kind == "sqlite3" else "bag.bag"), kind)
    result = dcr("eval", str(other), "--out", str(tmp_path / "report"), "--config", str(config))
    assert result.returncode == 0, result.stderr
    got = {stamp: v for (method, stamp), v in per_frame_rmse(tmp_path / "report").items()}
    want = {stamp: v for (method, stamp), v in per_frame_rmse(offline_report).items() if method == "classical"}
    assert got.keys() == want.keys()
    for stamp in got:
        assert got[stamp] == pytest.approx(want[stamp], rel=1e-9)
