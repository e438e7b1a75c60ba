"""Losses: hand-computed values and exact scale/shift invariance of the SSI losses."""

import math

import pytest
import torch

from depth_completion_ros.models.losses import (
    confidence_loss,
    depth_loss,
    disparity,
    fit_scale_shift,
    gradient_loss,
    masked_l1,
    masked_l2,
    multiscale_smooth_l1,
    robust_ssi_loss,
    ssi_loss,
)


def image(rows):
    """(1, 1, H, W) float64 tensor from nested lists."""
    return torch.tensor(rows, dtype=torch.float64)[None, None]


def test_masked_l1_and_l2_by_hand():
    prediction = image([[1.0, 2.0], [3.0, 10.0]])
    target = image([[2.0, 2.0], [1.0, 0.0]])
    mask = image([[1, 1], [1, 0]]).bool()  # the 10 vs 0 pixel does not count
    # errors on the mask: 1, 0, 2
    assert masked_l1(prediction, target, mask).item() == pytest.approx(3 / 3)
    assert masked_l2(prediction, target, mask).item() == pytest.approx((1 + 0 + 4) / 3)
    assert depth_loss(prediction, target, mask).item() == pytest.approx(1 + 5 / 3)
    assert depth_loss(prediction, target, mask, l1_weight=0.0).item() == pytest.approx(5 / 3)  # L2 alone


def test_empty_mask_gives_zero_not_nan():
    prediction, target = image([[1.0, 2.0]]), image([[5.0, 6.0]])
    empty = torch.zeros_like(prediction, dtype=torch.bool)
    assert masked_l1(prediction, target, empty).item() == 0
    assert ssi_loss(prediction, target, empty).item() == 0


def test_gradient_loss_by_hand_single_scale():
    prediction = image([[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.zeros_like(prediction)
    mask = torch.ones_like(prediction, dtype=torch.bool)
    mask[..., 1, 2] = False
    # x-differences: row 0: |1-0|, |3-1| ; row 1: |0-0| and (pair with the masked pixel dropped)  -> 3 pairs, sum 3
    # y-differences: col 0: 0, col 1: 1, col 2 dropped -> 2 pairs, sum 1
    assert gradient_loss(prediction, target, mask, scales=1).item() == pytest.approx((3 + 1) / 5)


def test_gradient_loss_ignores_a_constant_offset():
    torch.manual_seed(0)
    target = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    mask = torch.rand(2, 1, 16, 16) > 0.2
    assert gradient_loss(target + 3.0, target, mask).item() == pytest.approx(0.0, abs=1e-12)


def test_fit_scale_shift_recovers_an_exact_affine_map():
    torch.manual_seed(1)
    prediction = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    target = 2.5 * prediction - 0.75
    scale, shift = fit_scale_shift(prediction, target, torch.ones_like(prediction, dtype=torch.bool))
    assert torch.allclose(scale.flatten(), torch.full((3,), 2.5, dtype=torch.float64))
    assert torch.allclose(shift.flatten(), torch.full((3,), -0.75, dtype=torch.float64))


def test_ssi_by_hand():
    # prediction [0, 1, 2], target [0, 1, 5]: least squares s = 2.5, t = -0.5 -> aligned [-0.5, 2, 4.5]
    prediction, target = image([[0.0, 1.0, 2.0]]), image([[0.0, 1.0, 5.0]])
    mask = torch.ones_like(prediction, dtype=torch.bool)
    scale, shift = fit_scale_shift(prediction, target, mask)
    assert scale.item() == pytest.approx(2.5) and shift.item() == pytest.approx(-0.5)
    assert ssi_loss(prediction, target, mask).item() == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_robust_ssi_by_hand():
    # prediction [1, 2, 4]: median 2, mean |dev| = 1 -> [-1, 0, 2]; target [0, 3, 3]: median 3, MAD 1 -> [-3, 0, 0]
    prediction, target = image([[1.0, 2.0, 4.0]]), image([[0.0, 3.0, 3.0]])
    mask = torch.ones_like(prediction, dtype=torch.bool)
    assert robust_ssi_loss(prediction, target, mask).item() == pytest.approx((2 + 0 + 2) / 3)


@pytest.mark.parametrize("scale, shift", [(3.0, 0.0), (0.01, 5.0), (250.0, -40.0), (-2.0, 1.0)])
def test_ssi_is_invariant_to_scale_and_shift_of_the_prediction(scale, shift):
    torch.manual_seed(2)
    prediction = torch.rand(2, 1, 12, 20, dtype=torch.float64)
    target = torch.rand(2, 1, 12, 20, dtype=torch.float64)
    mask = torch.rand(2, 1, 12, 20) > 0.3
    reference = ssi_loss(prediction, target, mask)
    assert reference.item() > 0.01  # a real residual, not a trivial fit
    assert ssi_loss(scale * prediction + shift, target, mask).item() == pytest.approx(reference.item(), rel=1e-9)


@pytest.mark.parametrize("scale, shift", [(3.0, 0.0), (0.01, 5.0), (250.0, -40.0)])
def test_robust_ssi_is_invariant_to_positive_scale_and_shift(scale, shift):
    torch.manual_seed(3)
    prediction = torch.rand(2, 1, 12, 20, dtype=torch.float64)
    target = torch.rand(2, 1, 12, 20, dtype=torch.float64)
    mask = torch.rand(2, 1, 12, 20) > 0.3
    reference = robust_ssi_loss(prediction, target, mask)
    assert reference.item() > 0.01
    assert robust_ssi_loss(scale * prediction + shift, target, mask).item() == pytest.approx(reference.item(), rel=1e-9)


def test_ssi_of_a_disparity_that_is_affine_in_the_target_is_zero():
    depth = torch.rand(1, 1, 10, 10, dtype=torch.float64) * 50 + 1
    relative = 4.0 * disparity(depth) + 0.3  # what a perfect relative-depth teacher outputs
    mask = torch.ones_like(depth, dtype=torch.bool)
    assert ssi_loss(relative, disparity(depth), mask).item() == pytest.approx(0.0, abs=1e-12)


def test_confidence_loss_is_lowest_at_the_error_based_goal():
    prediction, target = image([[10.0, 10.5]]), image([[10.0, 10.0]])
    mask = torch.ones_like(prediction, dtype=torch.bool)
    goal = torch.exp(-(prediction - target).abs() / (0.05 * target))  # [1, exp(-1)]
    best = confidence_loss(goal, prediction, target, mask)
    assert goal[0, 0, 0, 1].item() == pytest.approx(math.exp(-1))
    for other in (goal * 0.8, (goal + 0.1).clamp(max=1.0)):
        assert confidence_loss(other, prediction, target, mask).item() > best.item()


def test_multiscale_smooth_l1_by_hand():
    prediction = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[0.5, 3.0], [0.0, 0.0]]]])
    mask = torch.tensor([[[[True, True], [False, False]]]])
    # full: smooth-L1 of 0.5 -> 0.125, of 3 -> 2.5: mean 1.3125; 1/2: block means 0 vs 1.75 -> 1.25
    loss = multiscale_smooth_l1(prediction, target, mask, scales=2)
    assert loss.item() == pytest.approx((1.3125 + 1.25) / 2)
    assert multiscale_smooth_l1(prediction, target, torch.zeros_like(mask), scales=3).item() == 0.0
