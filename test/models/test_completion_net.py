"""Completion network: JARRN refine head, scale awareness, zero-initialized start, checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from depth_completion_ros.models.completion_net import (
    PRESETS,
    CompletionNet,
    depth_scale,
    jarrn_refine,
)
from depth_completion_ros.models.teacher import TeacherNet


def inputs(height=64, width=96, seed=0):
    generator = torch.Generator().manual_seed(seed)
    rgb = torch.rand(1, 3, height, width, generator=generator)
    prior = 2.0 + 30.0 * torch.rand(1, 1, height, width, generator=generator)
    sparse = torch.where(torch.rand(1, 1, height, width, generator=generator) < 0.1, prior, torch.zeros_like(prior))
    return rgb, sparse, prior


def randomize(net: CompletionNet, seed: int = 1) -> CompletionNet:
    """Give the zero-initialized head random weights, so outputs differ from the prior."""
    torch.manual_seed(seed)
    torch.nn.init.normal_(net.head.weight, std=0.1)
    return net.eval()


def test_jarrn_refine_by_hand():
    depth = torch.tensor([[[[2.0, 2.0, 2.0]]]])
    a = torch.tensor([[[[0.0, 100.0, 0.0]]]])  # s = 1, 2, 1
    b = torch.tensor([[[[0.0, 0.0, 100.0]]]])  # f = 0, 0, 0.5
    c = torch.tensor([[[[0.0, 100.0, 100.0]]]])  # p = 0.5, 1, 1
    out = jarrn_refine(depth, a, b, c)
    assert torch.allclose(out, torch.tensor([[[[2.0, 4.0, 2.5]]]]))


def test_refine_gate_is_per_pixel_not_a_softmax_over_rows():
    depth, a, b = torch.ones(1, 1, 2, 4), torch.full((1, 1, 2, 4), 5.0), torch.zeros(1, 1, 2, 4)
    c = torch.full((1, 1, 2, 4), 10.0)  # every gate open
    opened = jarrn_refine(depth, a, b, c)
    assert torch.all(opened > 1.9)  # a softmax over a row of 4 would cap each gate at 0.25
    c[..., 0, 0] = -10.0  # close one gate: only that pixel changes
    changed = jarrn_refine(depth, a, b, c) != opened
    assert changed.sum() == 1 and changed[..., 0, 0]


def test_fresh_network_returns_the_prior():
    rgb, sparse, prior = inputs()
    depth, confidence = CompletionNet(PRESETS["tiny"]).eval()(rgb, sparse, prior)
    assert torch.allclose(depth, prior, rtol=1e-5)
    assert torch.allclose(confidence, torch.full_like(confidence, 0.5))


@pytest.mark.parametrize("factor", [0.1, 3.0, 40.0])
def test_output_scales_with_the_input_depths(factor):
    """Scale-aware normalization: the network sees only depth relative to the median."""
    net = randomize(CompletionNet(PRESETS["tiny"]))
    rgb, sparse, prior = inputs()
    depth, _ = net(rgb, sparse, prior)
    scaled, _ = net(rgb, factor * sparse, factor * prior)
    assert not torch.allclose(depth, prior, rtol=1e-3)  # the randomized head really changes the output
    assert torch.allclose(scaled, factor * depth, rtol=1e-4)


def test_depth_scale_is_the_lower_median_per_image():
    sparse = torch.zeros(2, 1, 2, 3)
    sparse[0, 0, 0, :3] = torch.tensor([4.0, 1.0, 9.0])
    sparse[1, 0, 1, :2] = torch.tensor([6.0, 2.0])
    assert depth_scale(sparse).flatten().tolist() == [4.0, 2.0]
    assert depth_scale(torch.zeros(1, 1, 4, 4)).item() == 1.0


def test_small_preset_stride_and_size():
    net = CompletionNet(PRESETS["small"])
    assert net.stride == 32 and 1216 % net.stride == 0 and 352 % net.stride == 0
    megabytes = sum(p.numel() * 4 for p in net.state_dict().values()) / 1e6
    assert megabytes < 20


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    net = randomize(CompletionNet(PRESETS["tiny"]))
    path = save_checkpoint(tmp_path / "c.pt", "completion", net, {"seed": 1}, {"rmse_m": 1.5}, {"epoch": 2})
    loaded, payload = load_model(path, "completion")
    rgb, sparse, prior = inputs()
    assert torch.equal(loaded(rgb, sparse, prior)[0], net(rgb, sparse, prior)[0])
    assert payload["metrics"] == {"rmse_m": 1.5} and payload["train_config"] == {"seed": 1}


def test_architecture_mismatch_names_expected_and_found_shapes(tmp_path):
    path = save_checkpoint(tmp_path / "tiny.pt", "completion", CompletionNet(PRESETS["tiny"]))
    payload = read_checkpoint(path)
    payload["model_config"] = PRESETS["small"].to_dict()  # declares small, holds tiny tensors
    torch.save(payload, tmp_path / "lying.pt")
    with pytest.raises(BadInputError, match=r"expected shape \(8, 3, 3, 3\), found \(4, 3, 3, 3\)"):
        load_model(tmp_path / "lying.pt", "completion")
    with pytest.raises(BadInputError, match="architecture mismatch"):
        load_model(path, "completion", expected_config=PRESETS["small"])


def test_wrong_kind_and_corrupt_files_are_bad_input(tmp_path):
    teacher = save_checkpoint(tmp_path / "t.pt", "teacher", TeacherNet(PRESETS["tiny"]))
    with pytest.raises(BadInputError, match="'teacher' checkpoint, expected 'completion'"):
        load_model(teacher, "completion")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")


def radar_batch(points: int = 16, valid: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sparse = torch.zeros(2, 1, 32, 64)
    sparse[:, :, 12, ::9] = 12.0
    radar = torch.rand(2, points, 6, generator=generator) * 20
    radar_valid = torch.zeros(2, points, dtype=torch.bool)
    radar_valid[:, :valid] = True
    return {"rgb": torch.rand(2, 3, 32, 64, generator=generator), "sparse": sparse, "prior": sparse.clone(),
            "scale": torch.tensor([12.0, 12.0]), "column": sparse.amax(dim=2, keepdim=True).expand(-1, -1, 32, -1),
            "radar": radar, "radar_valid": radar_valid}


def test_radar_padding_rows_do_not_change_the_output():
    torch.manual_seed(0)
    net = CompletionNet(PRESETS["radar_tiny"]).eval()
    for layer in (net.radar_injection.project, net.head):  # zero-initialized: make them count
        torch.nn.init.normal_(layer.weight, std=0.1)
    batch = radar_batch()
    with torch.no_grad():
        depth, _ = net(**batch)
        batch["radar"][:, 5:] = 1000.0  # garbage in the padding only
        same, _ = net(**batch)
        batch["radar"][:, 0] += 5.0  # a real point moves
        moved, _ = net(**batch)
    torch.testing.assert_close(depth, same)
    assert not torch.allclose(depth, moved)


def test_radar_network_outputs_and_missing_inputs():
    net = CompletionNet(PRESETS["radar_tiny"]).eval()
    batch = radar_batch()
    depth, confidence, mask_logits = net(**batch, with_mask=True)
    assert depth.shape == confidence.shape == (2, 1, 32, 64)
    assert mask_logits.shape == (2, 6, 32, 64)
    with pytest.raises(ValueError, match="column, radar and radar_valid"):
        net(batch["rgb"], batch["sparse"], batch["prior"])
    with pytest.raises(ValueError, match="no semantic-mask head"):
        CompletionNet(PRESETS["tiny"])(batch["rgb"], batch["sparse"], batch["prior"], with_mask=True)


def test_per_image_rgb_norm_makes_the_output_independent_of_exposure():
    torch.manual_seed(0)
    fixed = CompletionNet(PRESETS["tiny"]).eval()
    per_image = CompletionNet(dataclasses.replace(PRESETS["tiny"], rgb_norm="per_image")).eval()
    per_image.load_state_dict(fixed.state_dict())
    for net in (fixed, per_image):
        torch.nn.init.normal_(net.head.weight, std=0.1)  # zero-initialized: make the image count
    rgb, sparse = torch.rand(1, 3, 32, 64) * 0.5, torch.full((1, 1, 32, 64), 10.0)
    with torch.no_grad():
        torch.testing.assert_close(per_image(rgb, sparse, sparse)[0], per_image(rgb * 1.8, sparse, sparse)[0])
        assert not torch.allclose(fixed(rgb, sparse, sparse)[0], fixed(rgb * 1.8, sparse, sparse)[0])
    with pytest.raises(ValueError, match="rgb_norm"):
        dataclasses.replace(PRESETS["tiny"], rgb_norm="whatever")
