"""SemanticKITTI voxel files: bit order of .bin/.invalid and the .label size checks."""

from __future__ import annotations

import numpy as np
import pytest

from depth_completion_ros.datasets.semantic_kitti import read_bits, read_labels, unpack_bits, write_bits, write_labels
from depth_completion_ros.errors import BadInputError


def test_bits_are_packed_most_significant_first_in_c_order(tmp_path):
    # voxel (0, 0, 0) is the top bit of byte 0, voxel (0, 0, 7) its lowest (SemanticKITTI's np.unpackbits)
    packed = np.zeros(256 * 256 * 32 // 8, np.uint8)
    packed[0] = 0b1000_0001
    packed[-1] = 0b0000_0001
    packed.tofile(tmp_path / "000000.invalid")
    mask = read_bits(tmp_path / "000000.invalid")
    assert mask.shape == (256, 256, 32)
    assert [tuple(i) for i in np.argwhere(mask)] == [(0, 0, 0), (0, 0, 7), (255, 255, 31)]
    write_bits(tmp_path / "copy.invalid", mask)
    assert (tmp_path / "copy.invalid").read_bytes() == (tmp_path / "000000.invalid").read_bytes()


def test_labels_round_trip_and_sizes_are_checked(tmp_path):
    labels = (np.arange(4 * 4 * 2, dtype=np.uint16).reshape(4, 4, 2) * 9)
    write_labels(tmp_path / "a.label", labels)
    assert (tmp_path / "a.label").read_bytes()[:4] == bytes([0, 0, 9, 0])  # uint16 little-endian
    np.testing.assert_array_equal(read_labels(tmp_path / "a.label", (4, 4, 2)), labels)
    with pytest.raises(BadInputError, match="a.label: has 32 labels"):
        read_labels(tmp_path / "a.label", (4, 4, 4))
    (tmp_path / "short.bin").write_bytes(b"\0" * 3)
    with pytest.raises(BadInputError, match="short.bin: has 3 bytes"):
        read_bits(tmp_path / "short.bin", (4, 4, 2))
    with pytest.raises(BadInputError, match="needs 4"):
        unpack_bits(np.zeros(3, np.uint8), (4, 4, 2))
