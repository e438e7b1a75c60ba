"""The completion engine: registry, device choice, stride padding, clamping, invalid output."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline import engine as engine_module
from depth_completion_ros.pipeline.engine import (
    CompletionEngine,
    DepthResult,
    available_methods,
    register_method,
    resolve_device,
)

CAMERA = CameraModel.from_intrinsics(100.0, 100.0, 30.0, 20.0, width=61, height=37)


@dataclass
class RecordingMethod:
    """Returns a fixed output and records what the engine handed it."""

    output: float | np.ndarray = 5.0
    stride: int = 1
    calls: list = field(default_factory=list)

    def complete(self, rgb, sparse, camera, radar=None):
        self.calls.append((rgb, sparse.copy(), camera))
        depth = np.broadcast_to(np.float32(self.output), sparse.shape).astype(np.float32)
        return DepthResult(depth, np.full(sparse.shape, 0.5, np.float32))


@pytest.fixture
def fake_method():
    """Register a recording method under a test-only name, removed afterwards."""
    method = RecordingMethod()
    name = "test_recording"
    register_method(name, devices=("cpu", "cuda"), weights="optional")(lambda device, weights, params: method)
    yield name, method
    engine_module._REGISTRY.pop(name)


def test_builtin_methods_are_registered():
    assert {"classical", "ip_basic", "ip_basic_multiscale"} <= set(available_methods())


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(BadInputError, match="ip_basic_multiscale"):
        CompletionEngine(method="no_such_method")


def test_registering_two_factories_under_one_name_fails(fake_method):
    with pytest.raises(ValueError, match="twice"):
        register_method(fake_method[0])(lambda device, weights, params: None)


def test_auto_device_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(engine_module, "_cuda_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("auto", ("cpu",)) == "cpu"  # a CPU-only method stays on the CPU
    assert resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(engine_module, "_cuda_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"


def test_unavailable_or_unsupported_cuda_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setattr(engine_module, "_cuda_available", lambda: False)
    with pytest.raises(BadInputError, match="use auto or cpu"):
        resolve_device("cuda")
    with pytest.raises(BadInputError, match="CPU only"):
        resolve_device("cuda", ("cpu",))
    with pytest.raises(BadInputError, match="not one of"):
        resolve_device("tpu")


def test_input_is_padded_to_the_stride_and_output_cropped_back(fake_method):
    name, method = fake_method
    method.stride = 16
    engine = CompletionEngine(method=name)
    rgb = np.full((37, 61, 3), 7, np.uint8)
    result = engine.complete(rgb, np.zeros((37, 61), np.float32), CAMERA)
    _, sparse_seen, camera_seen = method.calls[-1]
    assert sparse_seen.shape == (48, 64)
    assert (camera_seen.width, camera_seen.height) == (64, 48)
    np.testing.assert_allclose(camera_seen.K, CAMERA.K)  # bottom/right padding keeps the intrinsics
    assert result.depth.shape == (37, 61) and result.confidence.shape == (37, 61)


def test_invalid_inputs_are_dropped_and_counted(fake_method):
    name, method = fake_method
    engine = CompletionEngine(method=name, min_depth=0.5, max_depth=50.0)
    sparse = np.zeros((37, 61), np.float32)
    sparse[0, :6] = [np.nan, np.inf, -3.0, 0.2, 60.0, 10.0]
    engine.complete(None, sparse, CAMERA)
    _, seen, _ = method.calls[-1]
    assert seen[0, :6].tolist() == [0, 0, 0, 0, 0, 10.0]
    assert engine.stats.dropped_input_pixels == 5


def test_output_is_clamped_and_non_finite_output_is_invalid_and_counted(fake_method):
    name, method = fake_method
    method.output = np.tile(np.array([np.nan, np.inf, -1.0, 0.01, 500.0, 7.0], np.float32), (37, 1))[:, :6]
    method.output = np.pad(method.output, ((0, 0), (0, 55)), constant_values=7.0)
    engine = CompletionEngine(method=name, min_depth=0.5, max_depth=50.0)
    result = engine.complete(None, np.zeros((37, 61), np.float32), CAMERA)
    assert result.depth[0, :6].tolist() == [0, 0, 0, 0.5, 50.0, 7.0]
    assert result.confidence[0, :6].tolist() == [0, 0, 0, 0.5, 0.5, 0.5]  # no confidence without depth
    assert engine.stats.non_finite_output_pixels == 2 * 37
    assert engine.stats.frames_with_non_finite_output == 1 and engine.stats.frames == 1


def test_warm_up_runs_the_method_and_resets_the_counters(fake_method):
    name, method = fake_method
    method.output = np.nan
    engine = CompletionEngine(method=name)
    engine.warm_up(CAMERA, runs=2)
    assert len(method.calls) == 2
    assert engine.stats.frames == 0 and engine.stats.non_finite_output_pixels == 0


@pytest.mark.parametrize(
    "rgb, sparse, match",
    [
        (None, np.zeros((37, 61), np.uint16), "float depth image in metres"),
        (None, np.zeros((36, 61), np.float32), "61x36 but the camera is 61x37"),
        (np.zeros((37, 61, 3), np.float32), np.zeros((37, 61), np.float32), "uint8"),
        (np.zeros((37, 61), np.uint8), np.zeros((37, 61), np.float32), "uint8"),
    ],
)
def test_bad_input_arrays_are_rejected(fake_method, rgb, sparse, match):
    engine = CompletionEngine(method=fake_method[0])
    with pytest.raises(BadInputError, match=match):
        engine.complete(rgb, sparse, CAMERA)


def test_weights_must_exist(fake_method, tmp_path):
    with pytest.raises(BadInputError, match="weights file not found"):
        CompletionEngine(method=fake_method[0], weights=tmp_path / "missing.pt")


def test_weights_given_to_a_method_without_weights_are_refused(tmp_path):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"")
    with pytest.raises(BadInputError, match="takes no weights file"):
        CompletionEngine(method="classical", weights=weights)


def test_a_method_that_requires_weights_refuses_to_start_without():
    name = "test_needs_weights"
    register_method(name, weights="required")(lambda device, weights, params: RecordingMethod())
    try:
        with pytest.raises(BadInputError, match="needs a weights file"):
            CompletionEngine(method=name)
    finally:
        engine_module._REGISTRY.pop(name)


def test_classical_engine_fills_a_frame_end_to_end():
    sparse = np.zeros((37, 61), np.float32)
    sparse[::6, ::2] = 12.0
    result = CompletionEngine("classical", device="auto").complete(None, sparse, CAMERA)
    assert np.all(result.depth > 0)
    np.testing.assert_allclose(result.depth, 12.0, rtol=1e-5)
    assert np.all((result.confidence > 0) & (result.confidence <= 1))


@pytest.mark.parametrize("method", ["classical", "ip_basic", "ip_basic_multiscale"])
def test_any_input_gives_finite_clamped_output(method):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    engine = CompletionEngine(method, min_depth=0.5, max_depth=80.0)
    values = st.one_of(st.just(0.0), st.floats(allow_nan=True, allow_infinity=True, width=32))

    @settings(max_examples=25, deadline=None)
    @given(sparse=arrays(np.float32, (37, 61), elements=values))
    def check(sparse):
        result = engine.complete(None, sparse, CAMERA)
        assert np.all(np.isfinite(result.depth)) and np.all(np.isfinite(result.confidence))
        valid = result.depth > 0
        assert np.all((result.depth[valid] >= 0.5) & (result.depth[valid] <= 80.0))
        assert np.all((result.confidence >= 0) & (result.confidence <= 1))
        assert not np.any(result.confidence[~valid])

    check()
