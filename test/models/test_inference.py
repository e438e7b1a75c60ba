"""TorchRunner: a CUDA out-of-memory error moves the network to the CPU, loudly and counted."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.models.inference import ONNX_INPUTS, ONNX_OPSET, ONNX_OUTPUTS, OnnxRunner, TorchRunner, network_inputs
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.pipeline.learned import SHIPPED_COMPLETION

CAMERA = CameraModel.from_intrinsics(80.0, 80.0, 47.5, 31.5, 96, 64)


def frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB, sparse depth (10 % of the pixels, metres) and a flat 10 m prior of the CAMERA size."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
    shape = (CAMERA.height, CAMERA.width)
    sparse = np.where(rng.random(shape) < 0.1, rng.uniform(2, 40, shape), 0).astype(np.float32)
    return rgb, sparse, np.full(shape, 10.0, np.float32)


def run_out_of_memory_once(runner: TorchRunner, monkeypatch) -> None:
    """The runner's next network call raises CUDA's out-of-memory error; later calls run."""
    run = runner._run
    errors = iter([torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")])

    def first_call_runs_out_of_memory(inputs):
        error = next(errors, None)
        if error is not None:
            raise error
        return run(inputs)

    monkeypatch.setattr(runner, "_run", first_call_runs_out_of_memory)


def test_out_of_memory_moves_the_network_to_the_cpu_with_a_warning_and_a_count(monkeypatch):
    torch.manual_seed(0)
    runner = TorchRunner(CompletionNet(PRESETS["tiny"]), "cpu")
    rgb, sparse, prior = frame()
    expected, _ = runner(rgb, sparse, prior)
    placed: list[str] = []
    monkeypatch.setattr(runner, "_place", lambda device: (placed.append(device), TorchRunner._place(runner, device)))
    run_out_of_memory_once(runner, monkeypatch)
    with pytest.warns(RuntimeWarning, match="out of memory.*CPU"):
        depth, _ = runner(rgb, sparse, prior)
    assert placed == ["cpu"] and runner.device == "cpu" and runner.oom_fallbacks == 1
    np.testing.assert_allclose(depth, expected, rtol=1e-5)
    runner(rgb, sparse, prior)  # later frames run without another fallback
    assert runner.oom_fallbacks == 1


def test_the_engine_reports_the_device_a_network_moved_to(monkeypatch):
    engine = CompletionEngine("learned", device="cpu", weights=SHIPPED_COMPLETION, method_params={"backend": "torch"})
    runner = engine.implementation.runner
    engine.device = runner.device = "cuda:0"  # as configured on a GPU machine (not moved there: none here)
    run_out_of_memory_once(runner, monkeypatch)
    assert engine.active_device() == "cuda:0"
    rgb, sparse, _ = frame()
    with pytest.warns(RuntimeWarning, match="out of memory"):
        engine.complete(rgb, sparse, CAMERA)
    assert engine.active_device() == "cpu" and engine.counters()["gpu_oom_fallbacks"] == 1


class _FakeCompletion(torch.nn.Module):
    """The completion network's ONNX interface: depth and confidence, optionally at 1/2 size."""

    def __init__(self, half: bool) -> None:
        super().__init__()
        self.half = half

    def forward(self, rgb, sparse, prior, scale):
        depth = prior * scale + 0 * sparse + 0 * rgb[:, :1]  # every input used: the exporter keeps them
        depth = torch.nn.functional.avg_pool2d(depth, 2) if self.half else depth
        return depth, torch.ones_like(depth)


def _onnx_bytes(module: torch.nn.Module, dynamic: bool, height: int = 32, width: int = 64) -> bytes:
    example = network_inputs(np.zeros((height, width, 3), np.uint8), np.ones((height, width), np.float32),
                             np.ones((height, width), np.float32))
    axes = {2: "height", 3: "width"}
    buffer = io.BytesIO()
    torch.onnx.export(module, tuple(torch.from_numpy(example[n]) for n in ONNX_INPUTS), buffer,
                      input_names=list(ONNX_INPUTS), output_names=list(ONNX_OUTPUTS), opset_version=ONNX_OPSET,
                      dynamic_axes={n: axes for n in ("rgb", "sparse", "prior")} if dynamic else None, dynamo=False)
    return buffer.getvalue()


@pytest.mark.parametrize(("half", "dynamic", "says"), [
    (False, False, "takes 64x32 images only"),  # a graph exported for one fixed size
    (True, True, "answered depth (1, 1, 24, 40)"),  # a graph whose output is half the input size
])
def test_onnx_graphs_that_do_not_fit_the_frame_are_refused_in_one_line(half, dynamic, says):
    runner = OnnxRunner(_onnx_bytes(_FakeCompletion(half), dynamic))
    height, width = 48, 80
    with pytest.raises(BadInputError, match=re.escape(says)):
        runner(np.zeros((height, width, 3), np.uint8), np.ones((height, width), np.float32),
               np.ones((height, width), np.float32))
    if not dynamic:  # the size it was made for still runs
        depth, _ = runner(np.zeros((32, 64, 3), np.uint8), np.ones((32, 64), np.float32), np.ones((32, 64), np.float32))
        assert depth.shape == (32, 64)
