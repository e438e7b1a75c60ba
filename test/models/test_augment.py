"""Disruption augmentations: the camera follows rescale-and-crop; flips, jitter and blur."""

import numpy as np
import pytest

from depth_completion_ros.geometry.camera import CameraModel, project
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.models.augment import (
    DisruptionConfig,
    blur,
    colour_jitter,
    flip_horizontal,
    random_rescale_and_crop,
    rescale_and_crop,
)

CAMERA = CameraModel.from_intrinsics(300.0, 310.0, 159.5, 99.5, 320, 200)


@pytest.mark.parametrize("scale, crop", [(0.5, (10, 20, 128, 64)), (1.3, (100, 50, 200, 120)), (1.0, (0, 0, 320, 200))])
def test_points_land_where_the_rescaled_cropped_pixels_went(scale, crop):
    point = np.array([[0.7, -0.2, 5.0]])
    u, v = project(CAMERA, point)[0][0]
    rgb = np.zeros((200, 320, 3), np.uint8)
    _, _, camera = rescale_and_crop(rgb, [], CAMERA, scale, crop)
    u2, v2 = project(camera, point)[0][0]
    # cv2.resize maps pixel centre u to (u + 0.5) * scale - 0.5; the crop shifts by its corner.
    assert u2 == pytest.approx((u + 0.5) * scale - 0.5 - crop[0])
    assert v2 == pytest.approx((v + 0.5) * scale - 0.5 - crop[1])
    assert (camera.width, camera.height) == crop[2:]


def test_resampled_depth_agrees_with_points_projected_with_the_new_camera():
    rng = np.random.default_rng(0)
    depth = np.full((200, 320), 7.5, np.float32)  # a fronto-parallel wall
    depth[:, 160:] = 12.0
    rows, cols = rng.integers(0, 200, 300), rng.integers(0, 320, 300)
    z = depth[rows, cols]
    points = np.column_stack([(cols - CAMERA.cx) * z / CAMERA.fx, (rows - CAMERA.cy) * z / CAMERA.fy, z])
    rgb = np.zeros((200, 320, 3), np.uint8)
    _, (cropped,), camera = random_rescale_and_crop(rng, rgb, [depth], CAMERA, (160, 96), (0.7, 1.3))
    sparse = points_to_sparse_depth(points, camera)
    hit = sparse > 0
    assert hit.sum() > 20
    away_from_the_edge = np.abs(np.arange(160)[None, :] - np.argmax(cropped > 10, axis=1)[:, None]) > 2
    agree = hit & away_from_the_edge
    assert np.allclose(sparse[agree], cropped[agree])


def test_random_scale_is_raised_to_fit_the_crop():
    rgb = np.zeros((200, 320, 3), np.uint8)
    out, _, camera = random_rescale_and_crop(np.random.default_rng(1), rgb, [], CAMERA, (320, 200), (0.5, 0.6))
    assert out.shape == (200, 320, 3) and camera.width == 320


def test_flip_mirrors_every_map():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    depth = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    flipped_rgb, (flipped,) = flip_horizontal(rgb, [depth])
    assert np.array_equal(flipped, [[3, 2, 1], [6, 5, 4]])
    assert np.array_equal(flipped_rgb[:, 0], rgb[:, 2])


def test_colour_jitter_changes_colours_within_range_and_blur_smooths():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    jittered = colour_jitter(rgb, rng, 0.3)
    assert jittered.dtype == np.uint8 and jittered.shape == rgb.shape
    assert not np.array_equal(jittered, rgb)
    assert colour_jitter(rgb, rng, 0.0).astype(int) == pytest.approx(rgb.astype(int), abs=1)  # no strength: same
    assert blur(rgb, 1.5).std() < rgb.std() * 0.6


def test_config_from_yaml_lists():
    config = DisruptionConfig.from_dict({"scale_range": [0.8, 1.2], "blur_probability": 0.0})
    assert config.scale_range == (0.8, 1.2) and config.blur_probability == 0.0
