"""TorchRunner: a CUDA out-of-memory error moves the network to the CPU, loudly and counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.models.inference import TorchRunner
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
