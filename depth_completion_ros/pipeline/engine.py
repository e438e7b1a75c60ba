"""The depth-completion engine: one interface for every method, a registry, device choice.

Every method (classical, learned, radar, monocular) implements :class:`CompletionMethod`::

    complete(rgb, sparse, camera, radar) -> DepthResult

and registers a factory under a name with :func:`register_method`; a config then picks it
by name. The :class:`CompletionEngine` wraps one method and owns what every method needs
the same way:

* device choice (``auto`` = CUDA when ``torch.cuda.is_available()``, else CPU);
* warm-up;
* padding the input to the method's stride (bottom/right, camera updated through
  :meth:`CameraModel.cropped`) and cropping the output back;
* input sanitation: 0, NaN, Inf, negatives and depths outside ``[min_depth, max_depth]``
  are "no measurement";
* min/max clamping of the output and the invalid-output policy: non-finite output depth
  becomes 0 (invalid) and is counted in :attr:`CompletionEngine.stats`.
"""

from __future__ import annotations

import importlib
import math
import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel

DEVICE_CHOICES = ("auto", "cpu", "cuda")
DEFAULT_METHOD = "classical"
DEFAULT_MIN_DEPTH = 0.1  # metres
DEFAULT_MAX_DEPTH = 100.0  # metres; beyond the HDL-64E's useful range
# Modules whose import registers the built-in methods (later methods add their module here).
BUILTIN_METHOD_MODULES = (
    "depth_completion_ros.pipeline.classical",
    "depth_completion_ros.pipeline.learned",
    "depth_completion_ros.pipeline.mono_aligned",
    "depth_completion_ros.pipeline.radar",
)


@dataclass(frozen=True)
class DepthResult:
    """Output of a completion method.

    Attributes:
        depth: (H, W) float32 metres, 0 = no prediction.
        confidence: (H, W) float32 in [0, 1]; 0 wherever depth is 0.
        fallback: the method could not produce its own answer and returned its fallback's
            (e.g. ``learned`` -> the classical fill after a non-finite network output).
    """

    depth: np.ndarray
    confidence: np.ndarray
    fallback: bool = False


class CompletionMethod(Protocol):
    """What every registered method implements.

    Attributes:
        stride: the input height and width must be multiples of it (1 = any size); the
            engine pads to it.

    A method may also define ``counters() -> Mapping[str, int]``: its own event totals
    (fallbacks, distrusted frames, GPU out-of-memory moves), reported by
    :meth:`CompletionEngine.counters` and so in the node's diagnostics; and ``device``, the
    device it runs on now (a network moved to the CPU after a CUDA out-of-memory error), see
    :meth:`CompletionEngine.active_device`.
    """

    stride: int

    def complete(
        self,
        rgb: np.ndarray | None,
        sparse: np.ndarray,
        camera: CameraModel,
        radar: np.ndarray | None = None,
    ) -> DepthResult:
        """Dense depth from one frame.

        Args:
            rgb: (H, W, 3) uint8 image, or None for depth-only methods.
            sparse: (H, W) float32 metres, 0 = no measurement (already sanitized).
            camera: the model of this (H, W) image.
            radar: optional (N, 3+) float32 radar points in the camera optical frame, metres.
        """
        ...


# factory(device, weights, params) -> method
MethodFactory = Callable[[str, "Path | None", Mapping[str, object]], CompletionMethod]


WEIGHTS_POLICIES = ("none", "optional", "required")


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: how to build it and what it can run on.

    Attributes:
        devices: the devices it can run on (``cpu``, ``cuda``).
        weights: ``none`` (takes no weights file), ``optional`` or ``required``.
        needs_lidar: its depth comes from the LiDAR points (False: radar-camera methods,
            which a rig without LiDAR can run).
        needs_rgb: it reads the camera image (False: it may be given None, and batch tools
            do not decode images for it).
        confidence_optional: it takes the method parameter ``confidence: false`` and then
            skips computing its confidence (all zeros), for callers that do not use it.
    """

    name: str
    factory: MethodFactory
    devices: tuple[str, ...] = ("cpu",)
    weights: str = "none"
    description: str = ""
    needs_lidar: bool = True
    needs_rgb: bool = True
    confidence_optional: bool = False


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str, *, devices: tuple[str, ...] = ("cpu",), weights: str = "none", description: str = "",
    needs_lidar: bool = True, needs_rgb: bool = True, confidence_optional: bool = False,
) -> Callable[[MethodFactory], MethodFactory]:
    """Decorator registering a method factory ``factory(device, weights, params)`` under ``name``."""
    if weights not in WEIGHTS_POLICIES:
        raise ValueError(f"weights must be one of {WEIGHTS_POLICIES}, got '{weights}'")

    def decorator(factory: MethodFactory) -> MethodFactory:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"completion method '{name}' is registered twice")
        _REGISTRY[name] = MethodSpec(name, factory, tuple(devices), weights, description, needs_lidar, needs_rgb,
                                     confidence_optional)
        return factory

    return decorator


def available_methods() -> dict[str, MethodSpec]:
    """Name -> spec of every registered method (imports the built-in method modules)."""
    for module in BUILTIN_METHOD_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def method_spec(name: str) -> MethodSpec:
    methods = available_methods()
    if name not in methods:
        raise BadInputError("method", f"unknown completion method '{name}'; choose one of: {', '.join(methods)}")
    return methods[name]


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_device(requested: str, supported: tuple[str, ...] = ("cpu", "cuda")) -> str:
    """Turn ``auto`` / ``cpu`` / ``cuda[:N]`` into the device a method with ``supported`` devices runs on.

    ``auto`` takes CUDA when the method supports it and ``torch.cuda.is_available()``,
    else the CPU. Asking for ``cuda`` where it cannot be had is an error, not a fallback.
    """
    kind = requested.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise BadInputError("device", f"'{requested}' is not one of {', '.join(DEVICE_CHOICES)}")
    if kind == "cpu":
        return "cpu"
    if kind == "cuda" and "cuda" not in supported:
        raise BadInputError("device", "this method runs on the CPU only; use --device cpu or auto")
    if "cuda" not in supported:
        return "cpu"
    if not _cuda_available():
        if kind == "cuda":
            raise BadInputError("device", "CUDA was requested but torch.cuda.is_available() is False; use auto or cpu")
        return "cpu"
    return "cuda" if kind == "auto" else requested


def describe_device(device: str) -> str:
    """Human-readable device name: the GPU's name, or the CPU model and core count."""
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu ({model}, {os.cpu_count()} cores)"


@dataclass
class EngineStats:
    """Counters for diagnostics.

    Attributes:
        frames: frames completed.
        dropped_input_pixels: sparse pixels that were NaN, Inf, negative or outside
            ``[min_depth, max_depth]`` and so treated as "no measurement".
        non_finite_output_pixels: output pixels the method left NaN/Inf (set to 0).
        frames_with_non_finite_output: frames with at least one such pixel.
        method_fallbacks: frames the method answered with its fallback (see
            :attr:`DepthResult.fallback`).
    """

    frames: int = 0
    dropped_input_pixels: int = 0
    non_finite_output_pixels: int = 0
    frames_with_non_finite_output: int = 0
    method_fallbacks: int = 0


def _check_inputs(
    rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel, radar: np.ndarray | None
) -> None:
    cam = camera.image_model()
    if sparse.ndim != 2 or sparse.dtype.kind != "f":
        raise BadInputError(
            "sparse",
            f"expected an (H, W) float depth image in metres, got {sparse.dtype} {sparse.shape} "
            "(convert uint16 millimetres or KITTI x256 values to float metres first)",
        )
    if sparse.shape != (cam.height, cam.width):
        raise BadInputError(
            "sparse", f"is {sparse.shape[1]}x{sparse.shape[0]} but the camera is {cam.width}x{cam.height}"
        )
    if rgb is not None and (rgb.dtype != np.uint8 or rgb.shape != (cam.height, cam.width, 3)):
        raise BadInputError(
            "rgb", f"expected ({cam.height}, {cam.width}, 3) uint8, got {rgb.dtype} {rgb.shape}"
        )
    if radar is not None and (radar.ndim != 2 or radar.shape[1] < 3):
        raise BadInputError("radar", f"expected (N, 3+) points, got shape {radar.shape}")


def _pad_to_stride(
    rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel, stride: int
) -> tuple[np.ndarray | None, np.ndarray, CameraModel]:
    """Pad bottom/right to multiples of ``stride``: sparse with 0, rgb by edge replication."""
    height, width = sparse.shape
    padded_h, padded_w = math.ceil(height / stride) * stride, math.ceil(width / stride) * stride
    if (padded_h, padded_w) == (height, width):
        return rgb, sparse, camera
    pad = ((0, padded_h - height), (0, padded_w - width))
    sparse = np.pad(sparse, pad)
    if rgb is not None:
        rgb = np.pad(rgb, (*pad, (0, 0)), mode="edge")
    return rgb, sparse, camera.cropped(0, 0, padded_w, padded_h)


@dataclass
class CompletionEngine:
    """Runs one registered method with the shared pre- and post-processing.

    Args:
        method: registered method name (see :func:`available_methods`).
        device: ``auto``, ``cpu`` or ``cuda[:N]``; after construction, the device chosen.
        weights: checkpoint file for methods that use one.
        min_depth, max_depth: valid depth range in metres, for inputs and outputs.
        method_params: keyword parameters for the method (e.g. kernel sizes).
    """

    method: str = DEFAULT_METHOD
    device: str = "auto"
    weights: Path | None = None
    min_depth: float = DEFAULT_MIN_DEPTH
    max_depth: float = DEFAULT_MAX_DEPTH
    method_params: Mapping[str, object] = field(default_factory=dict)
    stats: EngineStats = field(default_factory=EngineStats, init=False)
    _method_baseline: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.min_depth < self.max_depth:
            raise BadInputError("min_depth/max_depth", f"need 0 < min < max, got {self.min_depth}, {self.max_depth}")
        spec = method_spec(self.method)
        self.device = resolve_device(self.device, spec.devices)
        if spec.weights == "required" and self.weights is None:
            raise BadInputError("weights", f"method '{self.method}' needs a weights file (--weights FILE)")
        if spec.weights == "none" and self.weights is not None:
            raise BadInputError("weights", f"method '{self.method}' takes no weights file; drop --weights")
        if self.weights is not None and not Path(self.weights).is_file():
            raise BadInputError(str(self.weights), "weights file not found; check the path given to --weights")
        self.implementation: CompletionMethod = spec.factory(self.device, self.weights, dict(self.method_params))

    def sanitize_sparse(self, sparse: np.ndarray) -> np.ndarray:
        """(H, W) float32 copy with NaN, Inf, <= 0 and out-of-range depths set to 0 (counted)."""
        sparse = np.asarray(sparse, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            keep = (sparse >= self.min_depth) & (sparse <= self.max_depth)  # False for NaN
        self.stats.dropped_input_pixels += int(np.count_nonzero(~keep & (sparse != 0)))  # NaN != 0 holds
        return np.where(keep, sparse, np.float32(0)).astype(np.float32)

    def finalize(self, result: DepthResult) -> DepthResult:
        """Apply the invalid-output policy and the clamping to a method's raw output."""
        depth = np.array(result.depth, dtype=np.float32)  # a copy: the method's arrays stay untouched
        confidence = np.array(result.confidence, dtype=np.float32)
        finite = np.isfinite(depth)
        non_finite = int(depth.size - np.count_nonzero(finite))
        self.stats.non_finite_output_pixels += non_finite
        self.stats.frames_with_non_finite_output += int(non_finite > 0)
        with np.errstate(invalid="ignore"):
            invalid = ~finite | ~(depth > 0)
        np.clip(depth, self.min_depth, self.max_depth, out=depth)
        depth[invalid] = 0
        if confidence.any():  # a method asked not to compute it gives zeros: nothing to clean
            confidence[invalid | ~np.isfinite(confidence)] = 0
            np.clip(confidence, 0.0, 1.0, out=confidence)
        return DepthResult(depth, confidence, result.fallback)

    def complete(
        self,
        rgb: np.ndarray | None,
        sparse: np.ndarray,
        camera: CameraModel,
        radar: np.ndarray | None = None,
    ) -> DepthResult:
        """Complete one frame; see :class:`CompletionMethod` for shapes and units.

        Raises:
            BadInputError: wrong dtype or shape, or sizes that disagree with the camera.
        """
        sparse = np.asarray(sparse)
        radar = None if radar is None else np.asarray(radar, dtype=np.float32)
        _check_inputs(rgb, sparse, camera, radar)
        height, width = sparse.shape
        sparse = self.sanitize_sparse(sparse)
        rgb, sparse, camera = _pad_to_stride(rgb, sparse, camera.image_model(), self.implementation.stride)
        raw = self.implementation.complete(rgb, sparse, camera, radar)
        raw = DepthResult(raw.depth[:height, :width], raw.confidence[:height, :width], raw.fallback)
        self.stats.frames += 1
        self.stats.method_fallbacks += int(raw.fallback)
        return self.finalize(raw)

    def warm_up(self, camera: CameraModel, runs: int = 3, seed: int = 0) -> None:
        """Run the method on synthetic frames of ``camera``'s size (allocations, autotuning).

        The statistics are reset afterwards, so they count real frames only.
        """
        cam = camera.image_model()
        rng = np.random.default_rng(seed)
        sparse = np.where(
            rng.random((cam.height, cam.width)) < 0.05,
            rng.uniform(self.min_depth, self.max_depth, (cam.height, cam.width)),
            0.0,
        ).astype(np.float32)
        rgb = rng.integers(0, 256, (cam.height, cam.width, 3), dtype=np.uint8)
        for _ in range(runs):
            self.complete(rgb, sparse, cam)
        self.stats = EngineStats()
        self._method_baseline = self._method_counters()

    def counters(self) -> dict[str, int]:
        """:attr:`stats` and the method's own counters (see :class:`CompletionMethod`), both
        counting the frames since the last :meth:`warm_up`."""
        method = {key: count - self._method_baseline.get(key, 0) for key, count in self._method_counters().items()}
        return {**asdict(self.stats), **method}

    def active_device(self) -> str:
        """The device the method runs on now: :attr:`device`, unless the method moved (a
        network falls back to the CPU when CUDA runs out of memory)."""
        return str(getattr(self.implementation, "device", self.device))

    def _method_counters(self) -> dict[str, int]:
        counters = getattr(self.implementation, "counters", None)
        return {} if counters is None else {key: int(count) for key, count in counters().items()}
