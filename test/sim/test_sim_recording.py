import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from depth_completion_ros.cli.main import main
from depth_completion_ros.datasets import messages as readers
from depth_completion_ros.datasets.kitti import read_depth_png
from depth_completion_ros.geometry.transforms import parse_extrinsic
from depth_completion_ros.geometry.voxels import OCCUPIED, UNKNOWN
from depth_completion_ros.sim.recording import BAG_TOPICS


def test_dcr_sim_writes_a_readable_mcap_bag(small_rig_file, tmp_path, capsys):
    out = tmp_path / "bag"
    frames = 3
    assert main(["sim", "--scene", "street", "--frames", str(frames), "--seed", "2", "--rig", str(small_rig_file),
                 "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert list(out.glob("*.mcap"))
    duration = frames / 10.0  # the rig's camera runs at 10 Hz
    expected = {"/tf_static": 1, "/tf": frames, "/lidar/points": int(np.ceil(duration * 10)),
                "/radar/points": int(np.ceil(duration * 13)), "/occupancy/ground_truth": int(np.ceil(duration * 10))}
    for key in ("left_image", "left_info", "right_image", "right_info", "depth", "semantic"):
        expected[BAG_TOPICS[key][0]] = frames
    store = get_typestore(Stores.ROS2_JAZZY)
    messages: dict[str, list] = {}
    with Reader(out) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == {t: m for t, m in BAG_TOPICS.values()}
        for connection, timestamp, raw in reader.messages():
            messages.setdefault(connection.topic, []).append(store.deserialize_cdr(raw, connection.msgtype))
    assert {topic: len(msgs) for topic, msgs in messages.items()} == expected

    image = messages["/camera/left/image_rect"][0]
    assert (image.encoding, image.width, image.height) == ("rgb8", 310, 94)
    depth_msg = messages["/camera/left/depth/ground_truth"][0]
    depth = np.frombuffer(depth_msg.data.tobytes(), "<f4").reshape(94, 310)
    assert depth_msg.encoding == "32FC1" and np.isnan(depth).any() and np.nanmin(depth) > 0  # NaN = sky
    right_info = messages["/camera/right/camera_info"][0]
    assert right_info.p[3] == pytest.approx(-180.0 * 0.54)
    tf_static = messages["/tf_static"][0]
    assert {t.child_frame_id for t in tf_static.transforms} == {"camera_left_optical_frame",
                                                                "camera_right_optical_frame", "velodyne", "radar_front"}

    # The clouds follow the package's one PointCloud2 convention (read back by ros/pointcloud.py).
    lidar = readers.pointcloud2_to_array(messages["/lidar/points"][0])
    assert lidar.dtype.names == ("x", "y", "z", "intensity", "ring") and lidar["ring"].dtype == np.uint16
    assert lidar.size > 1000 and lidar["ring"].max() < 16
    radar = readers.pointcloud2_to_array(messages["/radar/points"][0])
    assert radar.dtype.names == ("x", "y", "z", "rcs", "vx", "vy", "vx_comp", "vy_comp")
    occupancy = readers.pointcloud2_to_array(messages["/occupancy/ground_truth"][0])
    assert occupancy.size > 0 and set(np.unique(occupancy["state"])) <= {UNKNOWN, OCCUPIED}
    assert np.all(occupancy["label"] > 0)

    rig = yaml.safe_load((out / "sim_rig.yaml").read_text())
    T_base_lidar = parse_extrinsic({"matrix": rig["extrinsics_T_base_sensor"]["lidar"]["matrix"]}, "lidar")
    np.testing.assert_allclose(T_base_lidar[:3, 3], [0.0, 0.0, 1.73])
    assert rig["occupancy_grid"]["shape"] == [64, 64, 16]


def test_dcr_sim_kitti_layout(small_rig_file, tmp_path):
    out = tmp_path / "kitti"
    assert main(["sim", "--scene", "indoor", "--frames", "2", "--rig", str(small_rig_file), "--out", str(out),
                 "--format", "kitti"]) == 0
    for folder, suffix in (("image", "png"), ("velodyne_raw", "png"), ("groundtruth", "png"), ("intrinsics", "txt")):
        assert sorted(p.name for p in (out / folder).iterdir()) == [f"000000000{i}.{suffix}" for i in range(2)]
    sparse = read_depth_png(out / "velodyne_raw" / "0000000000.png")
    dense = read_depth_png(out / "groundtruth" / "0000000000.png")
    assert sparse.shape == dense.shape == (94, 310)
    assert 0 < (sparse > 0).mean() < 0.5 and (dense > 0).mean() > 0.95  # a room: no sky
    K = np.loadtxt(out / "intrinsics" / "0000000000.txt").reshape(3, 3)
    np.testing.assert_allclose(K, [[180.0, 0, 154.5], [0, 180.0, 43.0], [0, 0, 1]])


def test_dcr_sim_rejects_bad_arguments(tmp_path, capsys):
    assert main(["sim", "--frames", "0", "--out", str(tmp_path / "x")]) == 2
    assert main(["sim", "--rig", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "y")]) == 2
    assert "neither a built-in rig" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    assert "--format" in capsys.readouterr().out


def test_same_seed_writes_the_same_messages(small_rig_file, tmp_path):
    def messages(out):
        assert main(["sim", "--frames", "1", "--seed", "4", "--rig", str(small_rig_file), "--out", str(out)]) == 0
        with Reader(out) as reader:
            return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]

    assert messages(tmp_path / "a") == messages(tmp_path / "b")
