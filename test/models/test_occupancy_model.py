from pathlib import Path

import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.models.occupancy import (
    LidBins,
    OccDepthConfig,
    OccDepthNet,
    class_weights_from_counts,
    load_occdepth,
    occupancy_loss,
    predict_labels,
    stereo_sfa,
)
from depth_completion_ros.training.occupancy import load_train_config

TINY = OccDepthConfig(grid_origin=(0.0, -3.2, -1.6), grid_resolution=0.4, grid_shape=(16, 16, 8), image_size=(64, 32),
                      encoder_channels=(4, 6, 8), sfa_channels=4, max_disparity=4, voxel_channels=(4, 4, 4))


def test_lid_bins_round_trip_and_grow_linearly():
    bins = LidBins(d_min=2.0, d_max=60.0, count=32)
    index = torch.linspace(0, 32, 97, dtype=torch.float64)
    torch.testing.assert_close(bins.index(bins.depth(index)), index)
    edges = bins.depth(torch.arange(33, dtype=torch.float64))
    assert edges[0] == pytest.approx(2.0) and edges[-1] == pytest.approx(60.0)
    widths = edges.diff()
    torch.testing.assert_close(widths.diff(), torch.full((31,), float(widths[1] - widths[0]), dtype=torch.float64))


def test_lid_targets_and_decoding_use_the_same_bins():
    bins = LidBins(d_min=2.0, d_max=60.0, count=32)
    depth = torch.tensor([0.0, 1.0, 2.0, 10.0, 59.9, 60.0, float("nan")])
    target = bins.target(depth)
    assert target.tolist()[0:2] == [-1, -1] and target[2] == 0 and target[4] == 31 and target[5] == -1
    assert target[6] == -1
    one_hot = torch.nn.functional.one_hot(target[3:4], 32).double().T[None]  # (1, D, 1)
    decoded = bins.decode(one_hot, dim=1)
    lower, upper = bins.depth(target[3].double()), bins.depth(target[3].double() + 1)
    assert lower <= decoded.item() <= upper
    assert decoded.item() == pytest.approx(float(bins.depth(target[3].double() + 0.5)))


def test_stereo_sfa_weights_by_cosine_similarity_and_falls_back_to_one_view():
    left = torch.zeros(1, 2, 1, 2)
    right = torch.zeros(1, 2, 1, 2)
    left[0, :, 0, 0], right[0, :, 0, 0] = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0])  # same direction
    left[0, :, 0, 1], right[0, :, 0, 1] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])  # orthogonal
    pixel = torch.tensor([[[-0.5, 0.0], [0.5, 0.0], [-0.5, 0.0], [0.5, 0.0]]])  # centres of the 2 pixels
    seen_left = torch.tensor([[True, True, True, False]])
    seen_right = torch.tensor([[True, True, False, True]])
    out = stereo_sfa(left, right, pixel, pixel, seen_left, seen_right)[0].T
    torch.testing.assert_close(out[0], torch.tensor([1.0, 0.0]))          # cos 1: the mean
    torch.testing.assert_close(out[1], torch.tensor([0.25, 0.25]))        # cos 0: half of the mean
    torch.testing.assert_close(out[2], torch.tensor([1.0, 0.0]))          # left view only
    torch.testing.assert_close(out[3], torch.tensor([0.0, 1.0]))          # right view only


def _batch(config: OccDepthConfig, batch: int = 1) -> dict[str, torch.Tensor]:
    width, height = config.image_size
    K = torch.tensor([[40.0, 0, width / 2], [0, 40.0, height / 2], [0, 0, 1]])
    P_left = torch.cat([K, torch.zeros(3, 1)], 1)
    P_right = P_left.clone()
    P_right[0, 3] = -40.0 * 0.5
    T = torch.tensor([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])  # optical <- LiDAR axes
    generator = torch.Generator().manual_seed(0)
    return {
        "left": torch.rand(batch, 3, height, width, generator=generator),
        "right": torch.rand(batch, 3, height, width, generator=generator),
        "P_left": P_left.expand(batch, 3, 4), "P_right": P_right.expand(batch, 3, 4),
        "T": T.expand(batch, 4, 4),
        "labels": torch.randint(0, 3, (batch, *config.grid_shape), generator=generator),
        "invalid": torch.rand(batch, *config.grid_shape, generator=generator) < 0.3,
        "depth": torch.rand(batch, height, width, generator=generator) * 30,
    }


def test_network_outputs_have_the_grid_shape_and_train():
    torch.manual_seed(0)
    model = OccDepthNet(TINY)
    b = _batch(TINY, batch=2)
    out = model(b["left"], b["right"], b["P_left"], b["P_right"], b["T"])
    assert out.logits.shape == (2, 20, 16, 16, 8)
    assert out.depth_logits.shape == (2, 32, 8, 16)
    weights = class_weights_from_counts(torch.tensor([100, 10, 0] + [1] * 17))
    assert weights[2] == 0 and weights[1] > weights[0]
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(5):
        out = model(b["left"], b["right"], b["P_left"], b["P_right"], b["T"])
        loss, terms = occupancy_loss(out, b["labels"], b["invalid"], b["depth"], TINY.depth_bins, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert set(terms) == {"semantic", "geometry", "depth"} and all(np.isfinite(list(terms.values())))
    assert losses[-1] < losses[0]
    labels, probability = predict_labels(out.logits)
    assert labels.shape == (2, 16, 16, 8) and torch.all((probability >= 0) & (probability <= 1))
    assert torch.all((labels > 0) == (probability >= 0.5))


def test_the_same_weights_run_on_a_finer_grid():
    model = OccDepthNet(TINY).eval()
    fine = OccDepthNet(TINY.with_grid(VoxelGrid(TINY.grid_origin, 0.2, (32, 32, 16)))).eval()
    fine.load_state_dict(model.state_dict())
    b = _batch(TINY)
    with torch.no_grad():
        out = fine(b["left"], b["right"], b["P_left"], b["P_right"], b["T"])
    assert out.logits.shape == (1, 20, 32, 32, 16)


def test_weights_files_are_checked_against_the_architecture(tmp_path):
    from depth_completion_ros.models.checkpoint import save_checkpoint
    from depth_completion_ros.models.occupancy import KIND

    model = OccDepthNet(TINY)
    path = save_checkpoint(tmp_path / "w.pt", KIND, model)
    loaded = load_occdepth(str(path))
    assert loaded.config == TINY and not loaded.training
    other = save_checkpoint(tmp_path / "other.pt", "occupancy_geometry", model)
    with pytest.raises(BadInputError, match="'occupancy_geometry' checkpoint, expected 'occdepth'"):
        load_occdepth(str(other))
    narrower = OccDepthNet(OccDepthConfig.from_dict({**TINY.to_dict(), "sfa_channels": 5}))
    payload = torch.load(path, weights_only=True)
    payload["model_config"] = narrower.config.to_dict()
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(BadInputError, match="architecture mismatch"):
        load_occdepth(str(tmp_path / "bad.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="not a readable checkpoint"):
        load_occdepth(str(tmp_path / "junk.pt"))
    torch.save({"architecture": "occdepth-small", "config": TINY.to_dict(), "model": model.state_dict()},
               tmp_path / "old_format.pt")  # the retired trainer's format
    with pytest.raises(BadInputError, match="not a depth_completion_ros checkpoint"):
        load_occdepth(str(tmp_path / "old_format.pt"))


def test_full_grid_training_config_describes_the_semantic_kitti_grid():
    config = load_train_config(Path(__file__).resolve().parents[2] / "config" / "train" / "occupancy_full_grid.yaml")
    model = OccDepthConfig.from_dict(config["model"])
    assert model.grid().geometry() == VoxelGrid().geometry()  # 256x256x32 @0.2 m, SemanticKITTI box
    assert config["data"]["grid_factor"] == 1 and config["trainer"]["max_minutes"] is None
    assert model.image_size[0] % 32 == 0 and model.image_size[1] % 32 == 0
