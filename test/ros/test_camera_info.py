import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from depth_completion_ros.datasets.messages import camera_info_to_model
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel, RegionOfInterest
from depth_completion_ros.ros.camera_info import model_to_camera_info

K = [[700.0, 0, 620.5], [0, 705.0, 180.25], [0, 0, 1]]


@pytest.mark.parametrize(
    ("model", "d"),
    [("plumb_bob", [-0.3, 0.1, 0.001, 0.002, -0.01]),
     ("rational_polynomial", [-0.3, 0.1, 0.001, 0.002, -0.01, 0.02, 0.003, -0.001]),
     ("equidistant", [0.01, -0.02, 0.003, 0.0])],
)
def test_round_trip_all_fields(model, d):
    cam = CameraModel(
        width=1280, height=720, K=K, D=d, distortion_model=model,
        R=[[1, 0, 0], [0, 0.99995, -0.01], [0, 0.01, 0.99995]],
        P=[[690, 0, 610, -690 * 0.12], [0, 690, 181, 0], [0, 0, 1, 0]],
        binning_x=2, binning_y=2, roi=RegionOfInterest(10, 20, 600, 1000, True), rectified=False,
    )
    msg = model_to_camera_info(cam, stamp_ns=42, frame_id="cam_optical_frame")
    back = camera_info_to_model(msg, rectified=False)
    for name in ("K", "D", "R", "P"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cam, name))
    assert (back.width, back.height, back.distortion_model) == (1280, 720, model)
    assert (back.binning_x, back.binning_y, back.roi) == (2, 2, cam.roi)
    assert back.image_model().width == 500


@pytest.mark.parametrize(
    ("k", "field"),
    [([0.0] * 9, "CameraInfo.k"), ([np.nan] + [0.0] * 8, "CameraInfo.k"),
     ([700, 0, 620, 0, np.inf, 180, 0, 0, 1], "CameraInfo.k")],
)
def test_bad_k_names_the_field(k, field):
    msg = CameraInfo(width=10, height=10, k=np.array(k, dtype=np.float64), distortion_model="plumb_bob")
    with pytest.raises(BadInputError) as error:
        camera_info_to_model(msg)
    assert error.value.field == field


def test_bad_distortion_names_the_field():
    msg = model_to_camera_info(CameraModel(width=10, height=10, K=K))
    msg.distortion_model = "mei"
    msg.d = [0.1]
    with pytest.raises(BadInputError) as error:
        camera_info_to_model(msg)
    assert error.value.field == "CameraInfo.distortion_model"
