"""Training samples: ring subsets, sparse (held-out) vs dense supervision, determinism."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from depth_completion_ros.geometry.projection import occlusion_filter, points_to_sparse_depth
from depth_completion_ros.models.augment import DisruptionConfig
from depth_completion_ros.models.radar_input import DEFAULT_EMPTY_SCALE
from depth_completion_ros.training.samples import (
    CacheDataset,
    SparsityConfig,
    choose_input_rings,
    evaluation_input,
    make_radar_sample,
    make_sample,
)
from depth_completion_ros.datasets.cached_frame import CachedFrame, cache_files
from depth_completion_ros.pipeline.classical import classical_fill

PRIOR = functools.partial(classical_fill, rgb=None)
NO_DISRUPTION = DisruptionConfig(scale_range=(1.0, 1.0), flip_probability=0.0, jitter_probability=0.0,
                                 blur_probability=0.0)


def test_input_rings_are_every_kth_ring_and_leave_some_out_for_supervision():
    ring = np.repeat(np.arange(64), 10)
    for seed in range(20):
        use = choose_input_rings(np.random.default_rng(seed), ring, 16, held_out=True)
        chosen = np.unique(ring[use])
        assert 16 <= chosen.size <= 32  # step 2..4 of 64 rings
        assert np.unique(np.diff(chosen)).size == 1  # evenly spaced
    dense = [choose_input_rings(np.random.default_rng(s), ring, 16, held_out=False).all() for s in range(40)]
    assert any(dense)  # without held-out supervision every ring may be used


@pytest.mark.parametrize("supervision", ["dense", "sparse"])
def test_samples_have_the_crop_size_and_the_right_supervision(frame_cache, supervision):
    frame = CachedFrame.load(cache_files(frame_cache)[0])
    sample = make_sample(frame, np.random.default_rng(0), (64, 48), supervision, NO_DISRUPTION,
                         SparsityConfig(min_input_rings=8, max_drop=0.0), PRIOR)
    assert sample["rgb"].shape == (48, 64, 3)
    for key in ("sparse", "prior", "target"):
        assert sample[key].shape == (48, 64) and sample[key].dtype == np.float32
    assert np.all(sample["prior"] > 0)
    covered = np.mean(sample["target"] > 0)
    if supervision == "dense":
        assert covered > 0.5
    else:
        assert 0 < covered < 0.25  # only held-out ring points, never the dense depth
        held_out = sample["target"] > 0
        assert np.mean(sample["sparse"][held_out] > 0) < 0.1  # input and supervision are different points


def test_dataset_is_deterministic_per_seed_and_epoch(frame_cache):
    files = cache_files(frame_cache)
    first = CacheDataset(files, (64, 48), "dense", seed=4, prior_fill=PRIOR)[1]
    again = CacheDataset(files, (64, 48), "dense", seed=4, prior_fill=PRIOR)[1]
    other_epoch = CacheDataset(files, (64, 48), "dense", seed=4, prior_fill=PRIOR)
    other_epoch.set_epoch(1)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["rgb"], other_epoch[1]["rgb"])


def test_evaluation_input_takes_every_fourth_ring_in_a_bottom_centre_crop(frame_cache):
    frame = CachedFrame.load(cache_files(frame_cache)[0])
    rgb, sparse, gt, camera = evaluation_input(frame, ring_step=4, crop_size=(128, 64))
    assert rgb.shape == (64, 128, 3) and sparse.shape == gt.shape == (64, 128)
    assert (camera.width, camera.height) == (128, 64)
    assert np.array_equal(gt, frame.depth[-64:, 16:144])
    rows_with_points = np.flatnonzero((sparse > 0).any(axis=1))
    assert 0 < rows_with_points.size <= 32 // 4 + 1


def test_radar_sample_has_radar_inputs_lidar_target_and_mask(radar_frame_cache):
    frame = CachedFrame.load(cache_files(radar_frame_cache)[0])
    sample = make_radar_sample(frame, np.random.default_rng(0), (frame.camera.width, frame.camera.height),
                               NO_DISRUPTION, radar_dropout=0.0, max_points=16)
    assert sample["radar_valid"].sum() == np.count_nonzero(sample["sparse"]) > 0
    np.testing.assert_array_equal(sample["semantic"], frame.semantic)
    assert sample["column"].max() == sample["sparse"].max()
    assert sample["scale"] == pytest.approx(np.median(sample["sparse"][sample["sparse"] > 0]))
    # supervision: every LiDAR point, after the DESIGN occlusion filter; never the dense depth
    expected = occlusion_filter(points_to_sparse_depth(frame.points, frame.camera), 7)
    np.testing.assert_array_equal(sample["target"], expected)
    dropped = make_radar_sample(frame, np.random.default_rng(0), (64, 64), NO_DISRUPTION, radar_dropout=1.0,
                                max_points=16)
    assert not dropped["radar_valid"].any() and not dropped["sparse"].any()
    assert dropped["scale"] == DEFAULT_EMPTY_SCALE


def test_flipped_radar_sample_mirrors_points_and_maps(radar_frame_cache):
    frame = CachedFrame.load(cache_files(radar_frame_cache)[0])
    kwargs = dict(scale_range=(1.0, 1.0), jitter_probability=0.0, blur_probability=0.0)
    size = (frame.camera.width, frame.camera.height)
    plain = make_radar_sample(frame, np.random.default_rng(1), size, DisruptionConfig(flip_probability=0.0, **kwargs),
                              0.0, 16)
    flipped = make_radar_sample(frame, np.random.default_rng(1), size,
                                DisruptionConfig(flip_probability=1.0, **kwargs), 0.0, 16)
    np.testing.assert_array_equal(flipped["target"], plain["target"][:, ::-1])
    np.testing.assert_array_equal(flipped["semantic"], plain["semantic"][:, ::-1])
    valid = plain["radar_valid"]
    np.testing.assert_array_equal(flipped["radar"][valid, 0], -plain["radar"][valid, 0])


def test_lidar_frames_cannot_make_radar_samples(frame_cache):
    frame = CachedFrame.load(cache_files(frame_cache)[0])
    with pytest.raises(ValueError, match="--radar"):
        make_radar_sample(frame, np.random.default_rng(0), (64, 64), DisruptionConfig(), 0.0, 16)


def test_point_split_samples_take_points_of_every_ring_as_input(frame_cache):
    frame = CachedFrame.load(cache_files(frame_cache)[0])
    sparsity = SparsityConfig(min_input_rings=8, max_drop=0.0, point_split_probability=1.0)
    sample = make_sample(frame, np.random.default_rng(1), (frame.camera.width, frame.camera.height), "sparse",
                         NO_DISRUPTION, sparsity, PRIOR)
    rows_with_input = np.flatnonzero((sample["sparse"] > 0).any(axis=1))
    rows_with_truth = np.flatnonzero((sample["target"] > 0).any(axis=1))
    # whole rings are not held out: the input and the supervision share the rows of every ring
    assert np.intersect1d(rows_with_input, rows_with_truth).size > 0.5 * rows_with_truth.size
