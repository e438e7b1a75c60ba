import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import PointCloud2, PointField

from depth_completion_ros.datasets.messages import (
    POINTFIELD_DTYPES,
    pointcloud2_to_array,
    pointcloud2_to_xyz,
    unpack_rgb,
)
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.ros.pointcloud import array_to_pointcloud2, xyz_to_pointcloud2

F32 = PointField.FLOAT32


def cloud(fields, point_step, data, width, height=1, row_step=None, bigendian=False):
    return PointCloud2(
        height=height,
        width=width,
        fields=[PointField(name=n, offset=o, datatype=t, count=c) for n, o, t, c in fields],
        is_bigendian=bigendian,
        point_step=point_step,
        row_step=point_step * width if row_step is None else row_step,
        data=data,
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 50),
    extra=st.lists(st.sampled_from(sorted(POINTFIELD_DTYPES)), max_size=4),
    organized=st.booleans(),
    bigendian=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_structured_round_trip_any_layout(n, extra, organized, bigendian, seed):
    rng = np.random.default_rng(seed)
    order = ">" if bigendian else "<"
    spec = [("x", order + "f4"), ("y", order + "f4"), ("z", order + "f4")]
    spec += [(f"f{i}", POINTFIELD_DTYPES[t].newbyteorder(order)) for i, t in enumerate(extra)]
    points = np.zeros((2, n) if organized else n, dtype=spec)
    for name in points.dtype.names:
        points[name] = rng.integers(0, 100, points.shape)
    msg = array_to_pointcloud2(points, stamp_ns=5, frame_id="lidar")
    assert msg.is_bigendian == bigendian and msg.height == (2 if organized else 1)
    back = pointcloud2_to_array(msg, keep_organized=True)
    assert back.shape == ((2, n) if organized else (1, n))
    for name in points.dtype.names:
        np.testing.assert_array_equal(back[name].reshape(points.shape), points[name])
    np.testing.assert_array_equal(
        pointcloud2_to_xyz(msg, skip_nonfinite=False),
        np.column_stack([points[c].reshape(-1).astype(np.float32) for c in "xyz"]).reshape(-1, 3),
    )


def test_padding_offsets_and_row_step_padding_are_honoured():
    # Ouster-like layout: x y z, 4 B pad, intensity at 16, ring uint16 at 20, point_step 32
    dtype = np.dtype(
        {"names": ["x", "y", "z", "intensity", "ring"], "formats": ["<f4"] * 4 + ["<u2"],
         "offsets": [0, 4, 8, 16, 20], "itemsize": 32}
    )
    grid = np.zeros((3, 4), dtype=dtype)
    grid["x"] = np.arange(12).reshape(3, 4)
    grid["ring"] = np.arange(3)[:, None]
    rows = b"".join(grid[r].tobytes() + b"\xff" * 8 for r in range(3))  # 8 B row padding
    fields = [("x", 0, F32, 1), ("y", 4, F32, 1), ("z", 8, F32, 1), ("intensity", 16, F32, 1),
              ("ring", 20, PointField.UINT16, 1)]
    msg = cloud(fields, 32, rows, width=4, height=3, row_step=4 * 32 + 8)
    flat = pointcloud2_to_array(msg)
    assert flat.shape == (12,)
    np.testing.assert_array_equal(flat["x"], np.arange(12))
    np.testing.assert_array_equal(pointcloud2_to_array(msg, keep_organized=True)["ring"][:, 0], [0, 1, 2])


def test_count_greater_than_one_becomes_a_subarray():
    data = np.array([(1, 2, 3, [7, 8, 9])], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("v", "<f4", (3,))])
    msg = array_to_pointcloud2(data)
    assert msg.fields[3].count == 3
    np.testing.assert_array_equal(pointcloud2_to_array(msg)["v"][0], [7, 8, 9])


def test_skip_nonfinite_drops_nan_and_inf_points():
    xyz = np.array([[1, 2, 3], [np.nan, 0, 0], [0, np.inf, 0], [4, 5, 6]], np.float32)
    msg = xyz_to_pointcloud2(xyz, intensity=np.arange(4, dtype=np.float32))
    assert not msg.is_dense
    np.testing.assert_array_equal(pointcloud2_to_xyz(msg), xyz[[0, 3]])
    kept = pointcloud2_to_array(msg, skip_nonfinite=True)
    np.testing.assert_array_equal(kept["intensity"], [0, 3])


def test_rgb_and_label_fields():
    xyz = np.zeros((3, 3), np.float32)
    rgb = np.array([[255, 0, 0], [1, 2, 3], [10, 200, 30]], np.uint8)
    msg = xyz_to_pointcloud2(xyz, rgb=rgb, label=np.array([1, 40, 255]), frame_id="cam")
    assert [f.name for f in msg.fields] == ["x", "y", "z", "rgb", "label"]
    assert msg.fields[3].datatype == PointField.FLOAT32 and msg.fields[4].datatype == PointField.UINT32
    points = pointcloud2_to_array(msg)
    np.testing.assert_array_equal(unpack_rgb(points["rgb"]), rgb)
    np.testing.assert_array_equal(points["label"], [1, 40, 255])


def test_empty_cloud_is_valid_and_empty():
    msg = xyz_to_pointcloud2(np.zeros((0, 3), np.float32))
    assert pointcloud2_to_xyz(msg).shape == (0, 3)


XYZ_FIELDS = [("x", 0, F32, 1), ("y", 4, F32, 1), ("z", 8, F32, 1)]


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (cloud(XYZ_FIELDS, 12, b"\0" * 23, width=2), "PointCloud2.data"),  # truncated
        (cloud(XYZ_FIELDS, 12, b"\0" * 25, width=2), "PointCloud2.data"),
        (cloud(XYZ_FIELDS, 12, b"\0" * 12, width=2, row_step=12), "PointCloud2.row_step"),
        (cloud(XYZ_FIELDS + [("x", 12, F32, 1)], 16, b"\0" * 16, width=1), "PointCloud2.fields['x']"),
        (cloud(XYZ_FIELDS + [("i", 10, F32, 1)], 16, b"\0" * 16, width=1), "PointCloud2.fields['i']"),
        (cloud(XYZ_FIELDS + [("i", 12, F32, 2)], 16, b"\0" * 16, width=1), "PointCloud2.fields['i']"),
        (cloud(XYZ_FIELDS + [("i", 12, 9, 1)], 16, b"\0" * 16, width=1), "PointCloud2.fields['i'].datatype"),
    ],
)
def test_bad_clouds_raise_the_typed_error(msg, field):
    with pytest.raises(BadInputError) as error:
        pointcloud2_to_array(msg)
    assert error.value.field == field


def test_missing_xyz_raises_the_typed_error():
    msg = cloud([("x", 0, F32, 1), ("y", 4, F32, 1), ("intensity", 8, F32, 1)], 12, b"\0" * 12, width=1)
    with pytest.raises(BadInputError, match="no 'z' field"):
        pointcloud2_to_xyz(msg)


def test_the_ros_free_datatype_numbers_are_sensor_msgs_pointfield_constants():
    from sensor_msgs.msg import PointField

    from depth_completion_ros.datasets import messages

    for name in ("INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "FLOAT32", "FLOAT64"):
        assert getattr(messages, f"POINTFIELD_{name}") == getattr(PointField, name)
