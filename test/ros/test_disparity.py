import numpy as np

from depth_completion_ros.ros.disparity import Disparity, disparity_to_msg, msg_to_disparity


def test_disparity_round_trip_and_depth():
    values = np.array([[10.0, 20.0, 0.5], [0.0, 40.0, 64.0]], np.float32)
    valid = np.array([[True, True, True], [False, True, True]])
    disparity = Disparity(values, valid, focal_px=700.0, baseline_m=0.54, min_disparity=0.0, max_disparity=64.0,
                          delta_d=1 / 16)
    msg = disparity_to_msg(disparity, stamp_ns=7, frame_id="left_optical")
    assert msg.image.encoding == "32FC1" and msg.f == 700.0
    assert (msg.valid_window.x_offset, msg.valid_window.width, msg.valid_window.height) == (0, 3, 2)
    back = msg_to_disparity(msg)
    np.testing.assert_array_equal(back.valid, valid)
    np.testing.assert_array_equal(back.disparity[valid], values[valid])
    depth = back.to_depth()
    assert depth[0, 0] == np.float32(700.0 * 0.54 / 10.0) and depth[1, 0] == 0
