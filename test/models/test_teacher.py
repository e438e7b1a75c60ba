"""Relative-depth teachers: our network, and user-supplied TorchScript / ONNX files."""

from __future__ import annotations

import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.teacher import TEACHER_PRESETS, NetworkTeacher, TeacherNet, load_external_teacher


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TeacherNet(TEACHER_PRESETS["tiny"]).eval()


def test_network_teacher_pads_any_size_and_outputs_positive_disparity(net):
    rgb = torch.rand(2, 3, 30, 45)
    out = NetworkTeacher(net).predict(rgb)
    assert out.shape == (2, 1, 30, 45) and torch.all(out > 0)


def test_torchscript_and_onnx_files_give_the_network_output(net, tmp_path):
    rgb = torch.rand(1, 3, 32, 48)
    expected = net(rgb)
    torch.jit.trace(net, rgb).save(str(tmp_path / "teacher.pt"))
    torch.onnx.export(net, (rgb,), str(tmp_path / "teacher.onnx"), input_names=["rgb"], output_names=["disparity"],
                      opset_version=17, dynamo=False)
    for name in ("teacher.pt", "teacher.onnx"):
        out = load_external_teacher(tmp_path / name).predict(rgb)
        assert out.shape == (1, 1, 32, 48)
        assert torch.allclose(out, expected, atol=1e-5)


def test_missing_or_broken_teacher_files_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_external_teacher(tmp_path / "absent.onnx")
    (tmp_path / "broken.pt").write_bytes(b"junk")
    with pytest.raises(BadInputError, match="TorchScript"):
        load_external_teacher(tmp_path / "broken.pt")
