"""PCD v0.7 reader: nuScenes' radar layout (binary), ascii, COUNT > 1, and broken files."""

from __future__ import annotations

import numpy as np
import pytest

from depth_completion_ros.datasets.pcd import read_pcd
from depth_completion_ros.errors import BadInputError

HEADER = """# .PCD v0.7 - Point Cloud Data file format
VERSION 0.7
FIELDS {fields}
SIZE {sizes}
TYPE {types}
COUNT {counts}
WIDTH {n}
HEIGHT 1
VIEWPOINT 0 0 0 1 0 0 0
POINTS {n}
DATA {data}
"""


def header(n: int, data: str = "binary", fields="x y z dyn_prop id rcs", sizes="4 4 4 1 2 4", types="F F F I I F",
           counts="1 1 1 1 1 1") -> bytes:
    return HEADER.format(n=n, data=data, fields=fields, sizes=sizes, types=types, counts=counts).encode("ascii")


def test_binary_fields_are_read_by_name_with_pcd_sizes_and_no_padding(tmp_path):
    dtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("dyn_prop", "i1"), ("id", "<i2"), ("rcs", "<f4")])
    assert dtype.itemsize == 19  # packed, as PCD stores it
    cloud = np.zeros(4, dtype)
    cloud["x"], cloud["id"], cloud["dyn_prop"], cloud["rcs"] = [1.5, -2, 3, 40.25], [0, 1, 300, -5], [0, 3, 7, -1], 9.5
    (tmp_path / "a.pcd").write_bytes(header(4) + cloud.tobytes())
    read = read_pcd(tmp_path / "a.pcd")
    assert read.dtype == dtype
    np.testing.assert_array_equal(read, cloud)


def test_ascii_unsigned_and_count_above_one(tmp_path):
    text = header(2, "ascii", fields="x normal label", sizes="4 4 2", types="F F U", counts="1 3 1")
    (tmp_path / "a.pcd").write_bytes(text + b"1.5 0 0 1 7\n-2 1 0 0 65535\n")
    read = read_pcd(tmp_path / "a.pcd")
    assert read.dtype.names == ("x", "normal_0", "normal_1", "normal_2", "label")
    assert read["label"].tolist() == [7, 65535] and read["label"].dtype == np.dtype("<u2")
    np.testing.assert_array_equal(read["x"], [1.5, -2.0])
    np.testing.assert_array_equal(read["normal_2"], [1.0, 0.0])


@pytest.mark.parametrize("content, expected", [
    (header(3) + b"\0" * 20, "has 20 data bytes, POINTS 3 x 19 B needs 57"),
    (header(1, "binary_compressed") + b"\0" * 40, "binary_compressed is not supported"),
    (header(1, sizes="4 4 4 1 2"), "same number of fields"),
    (header(1, types="F F F Q I F"), "TYPE Q SIZE 1"),
    (b"ply\nformat ascii 1.0\n", "no 'DATA' line"),
    (header(2, "ascii") + b"1 2 3 4 5 6\n", "expected 2 lines of 6 values"),
])
def test_broken_files_name_the_file_and_the_problem(tmp_path, content, expected):
    (tmp_path / "bad.pcd").write_bytes(content)
    with pytest.raises(BadInputError, match="bad.pcd") as error:
        read_pcd(tmp_path / "bad.pcd")
    assert expected in str(error.value)
    with pytest.raises(BadInputError, match="cannot read"):
        read_pcd(tmp_path / "missing.pcd")
