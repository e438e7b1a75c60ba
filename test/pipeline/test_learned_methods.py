"""The learned and mono_aligned methods through the engine: weights, fallbacks, ONNX parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.checkpoint import load_model, save_checkpoint
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet
from depth_completion_ros.models.inference import OnnxRunner, TorchRunner, export_onnx
from depth_completion_ros.models.teacher import TeacherNet
from depth_completion_ros.pipeline.classical import classical_fill, ring_lines
from depth_completion_ros.pipeline.engine import CompletionEngine, available_methods
from depth_completion_ros.pipeline.learned import (
    SHIPPED_COMPLETION,
    SHIPPED_TEACHER,
    input_disagreement,
    network_trust,
)
from depth_completion_ros.pipeline.mono_aligned import align_scale_shift, mono_aligned_depth

WIDTH, HEIGHT = 200, 90  # not multiples of the stride: the engine pads
CAMERA = CameraModel.from_intrinsics(150.0, 150.0, 99.5, 30.0, WIDTH, HEIGHT)


def frame(seed: int = 0, ring_gap: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A random image and a flat ground's rings every ``ring_gap`` rows (every other point)."""
    rng = np.random.default_rng(seed)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None] - CAMERA.cy
    ground = np.where(rows > 1, 1.6 * CAMERA.fy / np.maximum(rows, 1), 60).repeat(WIDTH, axis=1).astype(np.float32)
    sparse = np.zeros_like(ground)
    sparse[35::ring_gap, ::2] = ground[35::ring_gap, ::2]
    rgb = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return rgb, sparse


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    net = CompletionNet(PRESETS["tiny"])
    torch.nn.init.normal_(net.head.weight, std=0.05)
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "tiny.pt", "completion", net)


def test_methods_are_registered_with_optional_weights():
    methods = available_methods()
    assert methods["learned"].weights == "optional" and "cuda" in methods["learned"].devices
    assert methods["mono_aligned"].weights == "optional"


def test_learned_runs_through_the_engine_with_padding(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    rgb, sparse = frame()
    result = engine.complete(rgb, sparse, CAMERA)
    assert result.depth.shape == (HEIGHT, WIDTH)
    assert np.all(np.isfinite(result.depth)) and np.all(result.depth > 0)
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    assert engine.stats.frames == 1


def test_shipped_weights_are_the_default():
    assert SHIPPED_COMPLETION.is_file() and SHIPPED_TEACHER.is_file()
    assert SHIPPED_COMPLETION.stat().st_size + SHIPPED_TEACHER.stat().st_size < 20e6
    engine = CompletionEngine("learned", device="cpu")
    rgb, sparse = frame(1)
    assert np.all(engine.complete(rgb, sparse, CAMERA).depth > 0)


def test_kitti_tuned_weights_load_match_their_card_and_run():
    import json

    weights = SHIPPED_COMPLETION.with_name("completion_small_kitti.pt")
    card = json.loads(weights.with_suffix(".json").read_text())
    assert weights.stat().st_size < 20e6 and card["file"] == f"weights/{weights.name}"
    model, payload = load_model(weights, "completion", expected_config=PRESETS["small"])
    assert "optimizer" not in payload
    engine = CompletionEngine("learned", device="cpu", weights=weights)
    rgb, sparse = frame(2)
    assert np.all(engine.complete(rgb, sparse, CAMERA).depth > 0)


def test_learned_needs_the_image(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    with pytest.raises(BadInputError, match="needs the camera image"):
        engine.complete(None, frame()[1], CAMERA)


def test_incompatible_checkpoint_is_bad_input_naming_the_shapes(tmp_path, tiny_weights):
    teacher = save_checkpoint(tmp_path / "teacher.pt", "teacher", TeacherNet(PRESETS["tiny"]))
    with pytest.raises(BadInputError, match="expected 'completion'"):
        CompletionEngine("learned", device="cpu", weights=teacher)
    payload = torch.load(tiny_weights, weights_only=True)
    payload["model_config"] = PRESETS["small"].to_dict()
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(BadInputError, match=r"expected shape .* found"):
        CompletionEngine("learned", device="cpu", weights=tmp_path / "mismatch.pt")


def test_non_finite_network_output_falls_back_to_the_classical_fill(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    method = engine.implementation
    method.runner = lambda rgb, sparse, prior: (np.full(sparse.shape, np.nan, np.float32), np.ones_like(sparse))
    rgb, sparse = frame()
    result = engine.complete(rgb, sparse, CAMERA)
    assert method.classical_fallbacks == 1 and engine.stats.method_fallbacks == 1
    classical = CompletionEngine("classical", device="cpu").complete(rgb, sparse, CAMERA)
    assert np.all(np.isfinite(result.depth)) and np.all(result.depth > 0)
    # the learned method pads to its stride; away from the padded bottom rows the fills agree
    assert np.allclose(result.depth[: HEIGHT - 4], classical.depth[: HEIGHT - 4], rtol=1e-5)


def test_network_that_disagrees_with_its_input_is_blended_towards_the_classical_fill(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    method = engine.implementation
    rgb, sparse = frame()
    classical = CompletionEngine("classical", device="cpu").complete(rgb, sparse, CAMERA).depth
    for scale, trust in ((1.01, 1.0), (1.035, 0.5), (1.2, 0.0)):  # 1 %, 3.5 %, 20 % off every measurement
        method.runner = lambda rgb, sparse, prior, s=scale: (prior * np.float32(s), np.ones_like(prior))
        depth = engine.complete(rgb, sparse, CAMERA).depth
        expected = classical * (trust * scale + 1 - trust)
        assert np.allclose(depth[: HEIGHT - 4], expected[: HEIGHT - 4], rtol=1e-4)
    assert method.distrusted_frames == 2 and engine.stats.method_fallbacks == 0
    with pytest.raises(BadInputError, match="disagreement_low < disagreement_high"):
        CompletionEngine("learned", device="cpu", weights=tiny_weights,
                         method_params={"disagreement_low": 0.1, "disagreement_high": 0.05})


def test_dense_rings_keep_the_classical_fill_on_their_lines_and_sparse_rings_do_not(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    engine.implementation.runner = lambda rgb, sparse, prior: (prior * np.float32(1.01), np.ones_like(prior))
    for ring_gap, on_lines in ((4, 1.0), (12, 1.01)):  # 4 px apart: dense; 12 px: the network everywhere
        rgb, sparse = frame(ring_gap=ring_gap)
        classical = CompletionEngine("classical", device="cpu").complete(rgb, sparse, CAMERA).depth
        depth = engine.complete(rgb, sparse, CAMERA).depth
        lines = ring_lines(sparse)
        assert np.allclose(depth[lines], classical[lines] * on_lines, rtol=1e-5)
        assert np.allclose(depth[~lines][: 1000], classical[~lines][: 1000] * 1.01, rtol=1e-5)


def test_engine_counters_carry_the_method_counters_since_the_warm_up(tiny_weights):
    engine = CompletionEngine("learned", device="cpu", weights=tiny_weights)
    method = engine.implementation
    method.runner.oom_fallbacks = 1  # as after a CUDA out-of-memory move during the warm-up
    method.runner = _FarOff(method.runner)
    engine.warm_up(CAMERA, runs=2)
    assert engine.counters()["distrusted_frames"] == 0 and engine.counters()["frames"] == 0
    rgb, sparse = frame()
    engine.complete(rgb, sparse, CAMERA)
    counters = engine.counters()
    assert counters["frames"] == 1 and counters["distrusted_frames"] == 1
    assert counters["classical_fallbacks"] == 0 and counters["gpu_oom_fallbacks"] == 0
    assert method.distrusted_frames == 3  # the method's own totals keep the warm-up frames
    assert set(CompletionEngine("classical").counters()) == {"frames", "dropped_input_pixels", "method_fallbacks",
                                                            "non_finite_output_pixels", "frames_with_non_finite_output"}


class _FarOff:
    """A runner 20 % off every measurement (distrusted by the guard), keeping the counters."""

    def __init__(self, runner) -> None:
        self.oom_fallbacks = runner.oom_fallbacks

    def __call__(self, rgb, sparse, prior):
        return prior * np.float32(1.2), np.ones_like(prior)


def test_input_disagreement_and_trust_by_hand():
    sparse = np.array([[0.0, 10.0, 20.0, 40.0]], np.float32)
    depth = np.array([[5.0, 11.0, 20.0, 40.4]], np.float32)
    assert input_disagreement(depth, sparse) == pytest.approx(0.01, rel=1e-4)  # median of 10 %, 0 %, 1 %
    assert network_trust(0.01, 0.02, 0.05) == 1.0 and network_trust(0.06, 0.02, 0.05) == 0.0
    assert network_trust(0.035, 0.02, 0.05) == pytest.approx(0.5)


def test_onnx_matches_torch_within_a_centimetre(tmp_path):
    model, _ = load_model(SHIPPED_COMPLETION, "completion")
    path = export_onnx(model, tmp_path / "completion.onnx", width=320, height=128)
    rng = np.random.default_rng(3)
    for height, width in ((128, 320), (352, 1216)):  # the graph has dynamic image axes
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        sparse = np.where(rng.random((height, width)) < 0.05, rng.uniform(2, 80, (height, width)), 0).astype(np.float32)
        prior = classical_fill(sparse, None)
        torch_depth, torch_conf = TorchRunner(model, "cpu")(rgb, sparse, prior)
        onnx_depth, onnx_conf = OnnxRunner(path)(rgb, sparse, prior)
        assert np.max(np.abs(torch_depth - onnx_depth)) <= 0.01
        assert np.max(np.abs(torch_conf - onnx_conf)) <= 1e-3
    engine = CompletionEngine("learned", device="cpu", weights=path)
    assert engine.implementation.stride == 32
    with pytest.raises(BadInputError, match="onnxruntime only"):
        CompletionEngine("learned", device="cpu", weights=path, method_params={"backend": "torch"})


def test_the_cpu_runs_a_checkpoint_in_onnxruntime_by_default_with_the_same_depth():
    engines = {backend: CompletionEngine("learned", device="cpu", method_params={"backend": backend})
               for backend in ("auto", "torch", "onnxruntime")}
    assert isinstance(engines["auto"].implementation.runner, OnnxRunner)
    assert isinstance(engines["onnxruntime"].implementation.runner, OnnxRunner)
    assert isinstance(engines["torch"].implementation.runner, TorchRunner)
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
    sparse = np.where(rng.random((CAMERA.height, CAMERA.width)) < 0.05,
                      rng.uniform(2, 80, (CAMERA.height, CAMERA.width)), 0).astype(np.float32)
    depth = {backend: engine.complete(rgb, sparse, CAMERA).depth for backend, engine in engines.items()}
    assert np.max(np.abs(depth["auto"] - depth["torch"])) <= 0.01
    with pytest.raises(BadInputError, match="backend 'tensorrt'"):
        CompletionEngine("learned", device="cpu", method_params={"backend": "tensorrt"})


def test_alignment_recovers_an_exact_affine_map():
    rng = np.random.default_rng(4)
    relative = rng.uniform(0.1, 2.0, 500)
    metric = 0.3 * relative + 0.02
    for method in ("median", "lstsq"):
        scale, shift = align_scale_shift(relative, metric, method)
        assert scale == pytest.approx(0.3) and shift == pytest.approx(0.02)


def test_median_alignment_ignores_outliers_that_break_least_squares():
    rng = np.random.default_rng(5)
    relative = rng.uniform(0.1, 2.0, 400)
    metric = 0.5 * relative + 0.1
    metric[:8] = 30.0  # 2 % wild points (e.g. radar multipath)
    median_scale, _ = align_scale_shift(relative, metric, "median")
    lstsq_scale, _ = align_scale_shift(relative, metric, "lstsq")
    assert abs(median_scale - 0.5) < abs(lstsq_scale - 0.5)
    assert median_scale == pytest.approx(0.5, rel=0.1)


def test_mono_aligned_depth_is_exact_for_a_perfect_relative_prior():
    rng = np.random.default_rng(6)
    depth = rng.uniform(2, 40, (60, 80)).astype(np.float32)
    relative = 7.0 / depth + 0.4
    sparse = np.where(rng.random(depth.shape) < 0.02, depth, 0).astype(np.float32)
    aligned, confidence = mono_aligned_depth(relative, sparse)
    assert np.allclose(aligned, depth, rtol=1e-4)
    assert confidence.max() <= 1 and confidence.min() >= 0


def test_local_correction_fixes_a_smooth_scale_drift():
    depth = np.linspace(5.0, 30.0, 60, dtype=np.float32)[:, None].repeat(120, axis=1)
    drift = np.linspace(0.8, 1.2, 120, dtype=np.float32)[None, :]  # the prior's scale drifts left to right
    relative = 1.0 / (depth * drift)
    sparse = np.zeros_like(depth)
    sparse[::6, ::6] = depth[::6, ::6]
    aligned, _ = mono_aligned_depth(relative, sparse)
    measured = sparse > 0
    scale, shift = align_scale_shift(relative[measured], 1.0 / sparse[measured])
    global_only = 1.0 / (scale * relative + shift)
    assert np.abs(aligned - depth).mean() < 0.5 * np.abs(global_only - depth).mean()


def test_mono_aligned_runs_through_the_engine():
    engine = CompletionEngine("mono_aligned", device="cpu")
    rgb, sparse = frame(2)
    result = engine.complete(rgb, sparse, CAMERA)
    assert result.depth.shape == (HEIGHT, WIDTH) and np.all(result.depth > 0)
    with pytest.raises(BadInputError, match="alignment"):
        CompletionEngine("mono_aligned", device="cpu", method_params={"alignment": "mean"})
