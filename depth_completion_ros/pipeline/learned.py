"""The ``learned`` completion method: the trained network refining the classical fill.

Per frame: the classical fill of the sparse input is the prior; the network
(:class:`~depth_completion_ros.models.completion_net.CompletionNet`) refines it with the
RGB image and returns depth and confidence. Backends:

* torch (a ``.pt`` checkpoint; default: the shipped ``weights/completion_small.pt``),
  with method parameters ``channels_last`` (default true) and ``compile`` (default false);
* onnxruntime (a ``.onnx`` file from ``dcr export --format onnx``, or a ``.pt`` checkpoint
  exported in memory when it is loaded).

Method parameter ``backend``: ``auto`` (default) runs a ``.pt`` checkpoint in onnxruntime
on the CPU and in torch on CUDA; ``torch`` or ``onnxruntime`` force one. At 1248x384 on
2 CPU cores, onnxruntime runs the shipped network in 19 ms against torch's 36 ms (the export
costs ~1 s once at load time); ``threads`` sets onnxruntime's intra-op threads (0 = one
per core).

A non-finite network output falls back to the classical fill for that frame and is counted
(:attr:`LearnedCompletion.classical_fallbacks`, and the engine's ``method_fallbacks``); CUDA
out-of-memory moves the network to the CPU with a warning (``gpu_oom_fallbacks``). All
three counters reach the node's diagnostics through :meth:`LearnedCompletion.counters`.

Input-consistency guard: a completion must reproduce the measurements it was given. The
shipped network's median relative disagreement with its own sparse input is 0.3-0.7 % on
the simulator, KITTI and Redwood frames; a network out of its domain drifts (a trained
model without per-image RGB normalization disagreed by 9 % on the bright Redwood frames,
where its output was 2.4x worse than the classical fill). The output is therefore blended
towards the classical fill with the weight
``clip((high - d) / (high - low), 0, 1)`` of the network, ``d`` the disagreement
(method parameters ``disagreement_low`` = 0.02, ``disagreement_high`` = 0.05); frames with
any blending are counted in :attr:`LearnedCompletion.distrusted_frames`.

Dense input: the network's output is quarter-resolution, upsampled; on the ring lines of
dense input (rings at most ~6 px apart, :func:`~.classical.unsmoothed_line_weight`) the
measured, row-spread values of the classical fill are closer to the truth, and replace it
there, with the classical fill's weight. On the real KITTI tuning frames with every other
point of all 64 rings: 1278/204 -> 1075/135 mm RMSE/MAE (the classical fill alone: 1141/140);
sparser input is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.pipeline.classical import (
    ClassicalParams,
    classical_fill,
    completion_confidence,
    ring_lines,
    unsmoothed_line_weight,
)
from depth_completion_ros.pipeline.engine import DepthResult, register_method

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED_COMPLETION = WEIGHTS_DIR / "completion_small.pt"
SHIPPED_TEACHER = WEIGHTS_DIR / "teacher_small.pt"
ONNX_STRIDE = 32  # the shipped architecture's stride; an ONNX graph does not declare it
_PARAMETERS = {"channels_last", "compile", "stride", "fp16", "disagreement_low", "disagreement_high", "backend",
               "threads"}
BACKENDS = ("auto", "torch", "onnxruntime")
DISAGREEMENT_LOW, DISAGREEMENT_HIGH = 0.02, 0.05  # median |net - input| / input: full trust / none


def shipped_weights(path: Path) -> Path:
    """The shipped weights file, or a clear error when the package was installed without it."""
    if not path.is_file():
        raise BadInputError("weights", f"the shipped weights {path} are missing; pass --weights FILE "
                                       "(train them with `dcr train completion`)")
    return path


@dataclass
class LearnedCompletion:
    """A :class:`~depth_completion_ros.pipeline.engine.CompletionMethod` around a network runner.

    Attributes:
        runner: ``(rgb, sparse, prior) -> (depth, confidence)`` (torch or onnxruntime).
        stride: input height and width must be multiples of it (the engine pads).
        disagreement: ``(low, high)`` of the input-consistency guard (module docstring).
        classical_fallbacks: frames whose network output was not finite.
        distrusted_frames: frames blended towards the classical fill by the guard.
    """

    runner: object
    stride: int
    disagreement: tuple[float, float] = (DISAGREEMENT_LOW, DISAGREEMENT_HIGH)
    classical_fallbacks: int = 0
    distrusted_frames: int = 0

    def complete(self, rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel,
                 radar: np.ndarray | None = None) -> DepthResult:
        if rgb is None:
            raise BadInputError("rgb", "the learned method needs the camera image")
        prior = classical_fill(sparse, None, ClassicalParams())
        if not np.any(sparse > 0):
            return DepthResult(prior, np.zeros_like(prior))
        depth, confidence = self.runner(rgb, sparse, prior)
        if not np.all(np.isfinite(depth)):
            self.classical_fallbacks += 1
            return DepthResult(prior, completion_confidence(prior, sparse > 0), fallback=True)
        trust = network_trust(input_disagreement(depth, sparse), *self.disagreement)
        if trust < 1.0:
            self.distrusted_frames += 1
            depth = trust * depth + (1 - trust) * prior
            confidence = trust * confidence + (1 - trust) * completion_confidence(prior, sparse > 0)
        lines = ring_lines(sparse)
        measured_weight = unsmoothed_line_weight(lines)
        if measured_weight > 0:
            depth = np.where(lines, measured_weight * prior + (1 - measured_weight) * depth, depth)
        return DepthResult(depth.astype(np.float32), confidence.astype(np.float32))

    @property
    def device(self) -> str:
        """The device the network runs on now (the CPU after a CUDA out-of-memory move)."""
        return self.runner.device

    def counters(self) -> dict[str, int]:
        """Event totals for the engine's diagnostics."""
        return {"classical_fallbacks": self.classical_fallbacks, "distrusted_frames": self.distrusted_frames,
                "gpu_oom_fallbacks": self.runner.oom_fallbacks}


def input_disagreement(depth: np.ndarray, sparse: np.ndarray) -> float:
    """Median of ``|depth - sparse| / sparse`` over the measured (> 0) pixels; (H, W) metres in."""
    measured = sparse > 0
    return float(np.median(np.abs(depth[measured] - sparse[measured]) / sparse[measured]))


def disagreement_bounds(params: Mapping[str, object], low: float, high: float) -> tuple[float, float]:
    """``(low, high)`` of an input-consistency guard from the method parameters
    ``disagreement_low`` / ``disagreement_high`` (defaults: the given values), checked."""
    low, high = float(params.get("disagreement_low", low)), float(params.get("disagreement_high", high))
    if not 0 <= low < high:
        raise BadInputError("method_params", f"need 0 <= disagreement_low < disagreement_high, got {low}, {high}")
    return low, high


def network_trust(disagreement: float, low: float, high: float) -> float:
    """Weight of the network output: 1 up to ``low``, 0 from ``high``, linear between."""
    return float(np.clip((high - disagreement) / (high - low), 0.0, 1.0))


def build_runner(device: str, weights: Path, params: Mapping[str, object]):
    """(runner, stride) for a ``.pt`` checkpoint or an ``.onnx`` file."""
    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        raise BadInputError("method_params", f"unknown parameter(s) {unknown}; known: {sorted(_PARAMETERS)}")
    backend = str(params.get("backend", "auto"))
    if backend not in BACKENDS:
        raise BadInputError("method_params", f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
    threads = int(params.get("threads", 0))
    from depth_completion_ros.models.inference import OnnxRunner

    if weights.suffix == ".onnx":
        if backend == "torch":
            raise BadInputError(str(weights), "is an ONNX model: it runs in onnxruntime only (backend auto)")
        return OnnxRunner(weights, device, threads), int(params.get("stride", ONNX_STRIDE))
    from depth_completion_ros.models.checkpoint import load_model
    from depth_completion_ros.models.inference import TorchRunner, onnx_model_bytes

    model, _ = load_model(weights, "completion")
    if model.config.radar_points:
        raise BadInputError(str(weights), "is a radar network; use method 'radar' for it")
    if backend == "onnxruntime" or (backend == "auto" and device == "cpu"):
        return OnnxRunner(onnx_model_bytes(model), device, threads), model.stride
    runner = TorchRunner(model, device, bool(params.get("channels_last", True)), bool(params.get("compile", False)),
                         fp16=bool(params.get("fp16", True)))
    return runner, model.stride


@register_method("learned", devices=("cpu", "cuda"), weights="optional",
                 description="trained network refining the classical fill (shipped weights by default)")
def _learned(device: str, weights: Path | None, params: Mapping[str, object]) -> LearnedCompletion:
    runner, stride = build_runner(device, Path(weights) if weights else shipped_weights(SHIPPED_COMPLETION), params)
    return LearnedCompletion(runner, stride, disagreement_bounds(params, DISAGREEMENT_LOW, DISAGREEMENT_HIGH))
