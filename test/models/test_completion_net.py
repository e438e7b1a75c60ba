"""Completion network: JARRN refine head, scale awareness, zero-initialized start, checkpoints."""

from __future__ import annotations

import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet, depth_scale, jarrn_refine
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
