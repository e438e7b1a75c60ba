"""IP-Basic (Ku et al. 2018): kernels, published behaviour, exposed parameters."""

import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.pipeline.ip_basic import (
    IPBasicParams,
    MultiscaleParams,
    ip_basic_fast,
    ip_basic_multiscale,
    make_kernel,
)


def test_kernels_match_the_published_ones():
    diamond5 = [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]
    cross5 = [[0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0]]
    assert make_kernel("diamond5").tolist() == diamond5
    assert make_kernel("cross5").tolist() == cross5
    assert make_kernel("full31").shape == (31, 31) and make_kernel("full31").all()
    assert make_kernel("cross7").sum() == 13 and make_kernel("diamond7").sum() == 25


@pytest.mark.parametrize("spec", ["diamond4", "star5", "full", "5"])
def test_bad_kernel_names_are_rejected(spec):
    with pytest.raises(BadInputError, match="odd size"):
        make_kernel(spec)


def _grid(depth: float, shape=(60, 80), step=3) -> np.ndarray:
    sparse = np.zeros(shape, np.float32)
    sparse[10::step, ::step] = depth
    return sparse


@pytest.mark.parametrize("blur", ["bilateral", "gaussian", "none"])
def test_fast_pipeline_keeps_a_constant_depth(blur):
    out = ip_basic_fast(_grid(20.0), IPBasicParams(blur=blur))
    filled = out[12:-2, 2:-2]
    assert np.all(filled > 0)
    np.testing.assert_allclose(filled, 20.0, rtol=1e-5)


def test_nearer_surface_wins_at_depth_edges():
    sparse = np.zeros((20, 20), np.float32)
    sparse[10, 8] = 10.0
    sparse[10, 10] = 40.0
    out = ip_basic_fast(sparse, IPBasicParams(blur="none", median_size=0))
    assert out[10, 9] == pytest.approx(10.0)  # the pixel between both takes the near one


def test_extrapolation_fills_above_the_top_measurement():
    sparse = _grid(20.0)
    assert np.all(ip_basic_fast(sparse)[:5] == 0)
    extrapolated = ip_basic_fast(sparse, IPBasicParams(extrapolate=True))
    np.testing.assert_allclose(extrapolated[:5, 2:-2], 20.0, rtol=1e-5)


@pytest.mark.parametrize("fill", [ip_basic_fast, ip_basic_multiscale])
def test_empty_input_gives_empty_output(fill):
    assert not fill(np.zeros((30, 40), np.float32)).any()


def test_multiscale_keeps_a_constant_depth():
    out = ip_basic_multiscale(_grid(25.0, step=4))
    filled = out[12:-2, 2:-2]
    assert np.all(filled > 0)
    np.testing.assert_allclose(filled, 25.0, rtol=1e-5)


def test_multiscale_dilates_near_points_more_than_far_ones():
    sparse = np.zeros((40, 40), np.float32)
    sparse[20, 10] = 10.0  # near bin: cross7
    sparse[20, 30] = 50.0  # far bin: cross3
    only_dilation = MultiscaleParams(
        close_kernel="full1", median_size=0, hole_fill_kernel="full1", masked_fill_iterations=0, blur="none"
    )
    out = ip_basic_multiscale(sparse, only_dilation)
    assert np.count_nonzero(np.isclose(out, 10.0)) == 13
    assert np.count_nonzero(np.isclose(out, 50.0)) == 5
