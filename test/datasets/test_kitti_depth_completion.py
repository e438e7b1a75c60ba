"""The KITTI depth-completion folder layout: round trip and every bad-input case."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_completion_ros.datasets.kitti_depth_completion import (
    CompletionFrame,
    list_frames,
    load_frame,
    read_intrinsics,
    write_frame,
)
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel


def make_frame(name: str = "0000000005.png", height: int = 24, width: int = 40, seed: int = 0) -> CompletionFrame:
    """A small synthetic frame: random RGB, a few depths on the KITTI x256 grid."""
    rng = np.random.default_rng(seed)
    sparse = np.where(rng.random((height, width)) < 0.2, rng.integers(256, 256 * 60, (height, width)) / 256.0, 0.0)
    camera = CameraModel.from_intrinsics(721.5377, 721.5377, 609.5593 - 10, 172.854 - 5, width, height)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return CompletionFrame(name, rgb, sparse.astype(np.float32), camera)


def test_frames_round_trip(tmp_path):
    written = [make_frame("a.png", seed=1), make_frame("b.png", seed=2)]
    for frame in written:
        write_frame(tmp_path, frame, ground_truth=frame.sparse * 2)
    files, problems = list_frames(tmp_path)
    assert problems == [] and [f.name for f in files] == ["a.png", "b.png"]
    for original, entry in zip(written, files):
        loaded = load_frame(entry)
        np.testing.assert_array_equal(loaded.rgb, original.rgb)
        np.testing.assert_array_equal(loaded.sparse, original.sparse)  # depths on the x256 grid are exact
        np.testing.assert_allclose(loaded.camera.K, original.camera.K, rtol=1e-8)
    assert (tmp_path / "groundtruth_depth" / "a.png").is_file()


def test_intrinsics_on_one_line_are_accepted(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text("721.5 0 609.5 0 721.5 172.8 0 0 1\n")
    assert read_intrinsics(path, 100, 50).fx == 721.5


def _message(error: BadInputError) -> str:
    return str(error)


def test_missing_and_extra_files_are_named_and_leave_the_other_frames(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        write_frame(tmp_path, make_frame(name))
    (tmp_path / "image" / "b.png").unlink()
    (tmp_path / "intrinsics" / "c.txt").unlink()
    cv2.imwrite(str(tmp_path / "image" / "z.png"), np.zeros((4, 4, 3), np.uint8))
    files, problems = list_frames(tmp_path)
    assert [f.name for f in files] == ["a.png"]
    messages = sorted(_message(p) for p in problems)
    assert len(messages) == 3
    assert any(str(Path("image") / "b.png") in m and "missing" in m for m in messages)
    assert any(str(Path("intrinsics") / "c.txt") in m and "missing" in m for m in messages)
    assert any(str(Path("image") / "z.png") in m and "extra file" in m for m in messages)


def test_missing_folder_is_named(tmp_path):
    write_frame(tmp_path, make_frame())
    (tmp_path / "intrinsics" / "0000000005.txt").unlink()
    (tmp_path / "intrinsics").rmdir()
    with pytest.raises(BadInputError, match="intrinsics.*folder not found"):
        list_frames(tmp_path)


def test_eight_bit_scan_is_rejected_with_the_fix(tmp_path):
    write_frame(tmp_path, make_frame())
    cv2.imwrite(str(tmp_path / "velodyne_raw" / "0000000005.png"), np.zeros((24, 40), np.uint8))
    (files,), _ = list_frames(tmp_path)
    with pytest.raises(BadInputError, match="velodyne_raw.*uint8.*uint16"):
        load_frame(files)


def test_mismatched_sizes_are_rejected(tmp_path):
    write_frame(tmp_path, make_frame())
    cv2.imwrite(str(tmp_path / "image" / "0000000005.png"), np.zeros((20, 40, 3), np.uint8))
    (files,), _ = list_frames(tmp_path)
    with pytest.raises(BadInputError, match="40x20 but .* is 40x24"):
        load_frame(files)


@pytest.mark.parametrize(
    "content, match",
    [("721 0 609\n0 721 172\n", "holds 6 numbers"), ("not a matrix", "unreadable"), (b"\xff\xfe\x00", "unreadable"),
     ("0 0 0 0 0 0 0 0 0", "all zero")],
)
def test_unreadable_intrinsics_are_rejected_with_the_fix(tmp_path, content, match):
    write_frame(tmp_path, make_frame())
    path = tmp_path / "intrinsics" / "0000000005.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (files,), _ = list_frames(tmp_path)
    with pytest.raises(BadInputError, match=match) as error:
        load_frame(files)
    assert str(path) in str(error.value) and "9 numbers" in str(error.value)
