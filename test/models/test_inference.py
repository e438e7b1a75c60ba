"""TorchRunner: a CUDA out-of-memory error moves the network to the CPU, loudly and counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.models.inference import TorchRunner


def test_out_of_memory_moves_the_network_to_the_cpu_with_a_warning_and_a_count(monkeypatch):
    torch.manual_seed(0)
    runner = TorchRunner(CompletionNet(PRESETS["tiny"]), "cpu")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    sparse = np.where(rng.random((64, 96)) < 0.1, rng.uniform(2, 40, (64, 96)), 0).astype(np.float32)
    prior = np.full((64, 96), 10.0, np.float32)
    expected, _ = runner(rgb, sparse, prior)
    run = runner._run
    placed: list[str] = []
    monkeypatch.setattr(runner, "_place", lambda device: (placed.append(device), TorchRunner._place(runner, device)))
    calls = iter([torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")])

    def first_call_runs_out_of_memory(inputs):
        error = next(calls, None)
        if error is not None:
            raise error
        return run(inputs)

    monkeypatch.setattr(runner, "_run", first_call_runs_out_of_memory)
    with pytest.warns(RuntimeWarning, match="out of memory.*CPU"):
        depth, _ = runner(rgb, sparse, prior)
    assert placed == ["cpu"] and runner.device == "cpu" and runner.oom_fallbacks == 1
    np.testing.assert_allclose(depth, expected, rtol=1e-5)
    runner(rgb, sparse, prior)  # later frames run without another fallback
    assert runner.oom_fallbacks == 1
