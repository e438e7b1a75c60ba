import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sensor_msgs.msg import Image

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.datasets.messages import ENCODINGS, image_to_numpy
from depth_completion_ros.ros.image import numpy_to_image
from depth_completion_ros.ros.stamps import stamp_to_ns


def pixels_for(encoding: str):
    dtype, channels = ENCODINGS[encoding]
    shape = st.tuples(st.integers(1, 9), st.integers(1, 9)).map(lambda hw: hw if channels == 1 else (*hw, channels))
    return hnp.arrays(dtype, shape)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), encoding=st.sampled_from(sorted(ENCODINGS)))
def test_round_trip_every_encoding(data, encoding):
    pixels = data.draw(pixels_for(encoding))
    msg = numpy_to_image(pixels, encoding, stamp_ns=1_700_000_000_123_456_789, frame_id="cam")
    assert msg.step == pixels.shape[1] * pixels.itemsize * (1 if pixels.ndim == 2 else pixels.shape[2])
    assert stamp_to_ns(msg.header.stamp) == 1_700_000_000_123_456_789 and msg.header.frame_id == "cam"
    back = image_to_numpy(msg)
    assert back.dtype == pixels.dtype
    np.testing.assert_array_equal(back, pixels)  # NaNs compare equal here


def test_view_without_copy_for_a_tight_little_endian_image():
    msg = numpy_to_image(np.arange(12, dtype=np.float32).reshape(3, 4), "32FC1")
    view = image_to_numpy(msg)
    assert not view.flags.owndata
    assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("bigendian", [False, True])
def test_step_padding_and_byte_order(bigendian):
    depth = np.array([[1, 2, 3], [40000, 5, 65535]], dtype=np.uint16)
    order = ">" if bigendian else "<"
    rows = [depth[r].astype(order + "u2").tobytes() + b"\xaa" * 4 for r in range(2)]  # 4 B padding per row
    msg = Image(height=2, width=3, encoding="16UC1", is_bigendian=bigendian, step=10, data=b"".join(rows))
    back = image_to_numpy(msg)
    np.testing.assert_array_equal(back, depth)
    assert back.dtype.isnative


def test_rgb_with_padding_is_a_strided_view():
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    data = b"".join(rgb[r].tobytes() + b"\0\0\0" for r in range(5))
    back = image_to_numpy(Image(height=5, width=7, encoding="rgb8", step=24, data=data))
    np.testing.assert_array_equal(back, rgb)
    assert not back.flags.owndata


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (Image(height=2, width=2, encoding="32FC1", step=8, data=b"\0" * 15), "Image.data"),
        (Image(height=2, width=2, encoding="32FC1", step=8, data=b"\0" * 17), "Image.data"),
        (Image(height=2, width=2, encoding="32FC1", step=4, data=b"\0" * 8), "Image.step"),
        (Image(height=2, width=2, encoding="yuv422", step=4, data=b"\0" * 8), "Image.encoding"),
        (Image(height=2, width=2, encoding="", step=4, data=b"\0" * 8), "Image.encoding"),
    ],
)
def test_bad_images_raise_the_typed_error(msg, field):
    with pytest.raises(BadInputError) as error:
        image_to_numpy(msg)
    assert error.value.field == field


def test_numpy_to_image_checks_dtype_and_channels():
    with pytest.raises(BadInputError):
        numpy_to_image(np.zeros((2, 2), np.float64), "32FC1")
    with pytest.raises(BadInputError):
        numpy_to_image(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(BadInputError):
        numpy_to_image(np.zeros((2, 2), np.uint8), "h264")


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_depth_image_round_trip_rep118(encoding):
    from depth_completion_ros.datasets.messages import image_to_depth
    from depth_completion_ros.ros.image import depth_to_image

    depth = np.array([[0.0, 1.2345, 70.0], [12.0, 0.0, 3.5]], np.float32)
    msg = depth_to_image(depth, encoding)
    raw = image_to_numpy(msg)
    if encoding == "32FC1":
        assert np.isnan(raw[0, 0]) and raw[0, 1] == np.float32(1.2345)
    else:
        assert raw[0, 0] == 0 and raw[0, 1] in (1234, 1235)
        assert raw[0, 2] == 65535  # saturates beyond 65.535 m
    back = image_to_depth(msg)
    assert back[0, 0] == 0 and back[1, 1] == 0
    np.testing.assert_allclose(back[1], [12.0, 0.0, 3.5], atol=1e-3)


def test_image_to_depth_treats_nan_inf_as_invalid_and_rejects_colour():
    from depth_completion_ros.datasets.messages import image_to_depth

    depth = np.array([[np.nan, np.inf, -1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(image_to_depth(numpy_to_image(depth, "32FC1")), [[0, 0, 0, 2.0]])
    with pytest.raises(BadInputError):
        image_to_depth(numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8"))
