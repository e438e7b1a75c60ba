import numpy as np
import pytest

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.errors import BadInputError


def test_topics_static_transforms_and_streaming(sim_bag):
    with Bag(sim_bag) as bag:
        assert bag.is_ros2 and not bag.truncated
        assert bag.topics["/lidar/points"] == ("sensor_msgs/msg/PointCloud2", 6)
        tree = bag.static_transforms()
        T = tree.lookup("camera_left_optical_frame", "velodyne")
        np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-9)
        stamps = [m.stamp_ns for m in bag.messages(["/lidar/points"])]
        assert len(stamps) == 6 and stamps == sorted(stamps)
        with pytest.raises(BadInputError, match="has no topic '/nope'"):
            bag.require(["/nope"])


def test_cut_off_mcap_yields_the_complete_messages_before_the_cut(sim_bag, tmp_path):
    mcap = next(sim_bag.glob("*.mcap"))
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    with Bag(cut) as bag:
        assert bag.truncated and "cut off after" in bag.truncation_note
        clouds = list(bag.messages(["/lidar/points"]))
        assert 1 <= len(clouds) < 6
        assert all(m.msg.width > 0 for m in clouds)


@pytest.mark.parametrize("content", [b"", b"not a bag at all" * 100, b"\x89MCAP0\r\n" + b"\x00" * 64])
def test_unreadable_bags_raise_one_typed_error(tmp_path, content):
    path = tmp_path / "broken.mcap"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as error:
        Bag(path)
    assert str(path) in str(error.value)
    with pytest.raises(BadInputError, match="not found"):
        Bag(tmp_path / "missing.mcap")


def test_unreadable_data_files_say_what_they_are(tmp_path):
    from depth_completion_ros.files import unreadable_reason

    pointer = tmp_path / "scene.json"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 123\n")
    assert "Git LFS pointer" in unreadable_reason(pointer, "a JSON table")
    (tmp_path / "empty.png").write_bytes(b"")
    assert unreadable_reason(tmp_path / "empty.png", "a PNG image") == "is empty, not a PNG image"
    assert unreadable_reason(tmp_path / "none.png", "a PNG image") == "not found"
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    assert "truncated, damaged or another format" in unreadable_reason(tmp_path / "cut.png", "a PNG image")
