"""Reference fills."""

import numpy as np

from depth_completion_ros.eval.baselines import nearest_fill


def test_nearest_fill_takes_the_closest_measurement():
    sparse = np.zeros((1, 7), np.float32)
    sparse[0, 1], sparse[0, 4] = 2.0, 9.0
    assert nearest_fill(sparse)[0].tolist() == [2, 2, 2, 9, 9, 9, 9]


def test_nearest_fill_of_nothing_is_nothing():
    assert not nearest_fill(np.zeros((3, 3), np.float32)).any()
