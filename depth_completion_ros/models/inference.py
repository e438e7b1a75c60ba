"""Running the completion network on one frame: torch or onnxruntime, same inputs and outputs.

Both runners take numpy arrays (RGB (H, W, 3) uint8; sparse and prior (H, W) float32
metres; for radar networks the :class:`~.radar_input.RadarInputs` too, torch only) and
return ``(depth, confidence)`` (H, W) float32. The per-image scale is computed
here in numpy (:func:`numpy_depth_scale`, the same lower median as
:func:`~.completion_net.depth_scale`) and fed to the network as an input, so the two
backends run the same graph.

Torch inference: ``torch.inference_mode``, channels-last, fp16 autocast on CUDA, optional
``torch.compile``. A CUDA out-of-memory error moves the model to the CPU with a warning
and retries (:attr:`TorchRunner.oom_fallbacks` counts it).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.completion_net import MIN_SCALE, CompletionNet
from depth_completion_ros.models.radar_input import RadarInputs

ONNX_INPUTS = ("rgb", "sparse", "prior", "scale")
ONNX_OUTPUTS = ("depth", "confidence")
ONNX_OPSET = 17


def numpy_depth_scale(sparse: np.ndarray) -> float:
    """Lower median of the valid (> 0) depths, at least MIN_SCALE; 1 m when there are none."""
    valid = np.sort(sparse[sparse > 0].astype(np.float32))
    if valid.size == 0:
        return 1.0
    return max(float(valid[(valid.size - 1) // 2]), MIN_SCALE)


def network_inputs(rgb: np.ndarray, sparse: np.ndarray, prior: np.ndarray,
                   radar: RadarInputs | None = None) -> dict[str, np.ndarray]:
    """The (batch-1) network inputs: the four of :data:`ONNX_INPUTS`, plus the radar ones.

    With ``radar``, the scale is the radar's (:attr:`RadarInputs.scale`) and ``column``,
    ``radar`` (1, N, 6) and ``radar_valid`` (1, N) are added.
    """
    inputs = {
        "rgb": np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0),
        "sparse": np.ascontiguousarray(sparse[None, None], dtype=np.float32),
        "prior": np.ascontiguousarray(prior[None, None], dtype=np.float32),
        "scale": np.array([numpy_depth_scale(sparse) if radar is None else radar.scale], dtype=np.float32),
    }
    if radar is not None:
        inputs.update(column=np.ascontiguousarray(radar.column[None, None], dtype=np.float32),
                      radar=radar.points[None].astype(np.float32), radar_valid=radar.valid[None])
    return inputs


class TorchRunner:
    """A :class:`CompletionNet` on a device.

    Args:
        model: the network (moved to ``device``, eval mode).
        device: ``cpu`` or ``cuda[:N]``.
        channels_last: use the channels-last memory format (faster convolutions).
        compile: wrap the network in ``torch.compile``.
        fp16: autocast to float16 on CUDA (ignored on the CPU, which runs float32).
    """

    def __init__(self, model: CompletionNet, device: str = "cpu", channels_last: bool = True,
                 compile: bool = False, fp16: bool = True) -> None:
        self.model = model.eval()
        self.fp16 = fp16
        self.device = device
        self.channels_last = channels_last
        self.compile = compile
        self.oom_fallbacks = 0
        self._place(device)

    def _place(self, device: str) -> None:
        self.device = device
        self.model = self.model.to(device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.forward = torch.compile(self.model) if self.compile else self.model

    def _run(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
        if self.channels_last:
            tensors["rgb"] = tensors["rgb"].contiguous(memory_format=torch.channels_last)
        cuda = self.device.startswith("cuda")
        radar = {k: tensors[k] for k in ("column", "radar", "radar_valid") if k in tensors}
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda and self.fp16):
            depth, confidence = self.forward(tensors["rgb"], tensors["sparse"], tensors["prior"], tensors["scale"],
                                             **radar)
        return depth[0, 0].float().cpu().numpy(), confidence[0, 0].float().cpu().numpy()

    def __call__(self, rgb: np.ndarray, sparse: np.ndarray, prior: np.ndarray,
                 radar: RadarInputs | None = None) -> tuple[np.ndarray, np.ndarray]:
        inputs = network_inputs(rgb, sparse, prior, radar)
        try:
            return self._run(inputs)
        except torch.cuda.OutOfMemoryError:
            warnings.warn("CUDA out of memory in the completion network; continuing on the CPU", RuntimeWarning,
                          stacklevel=2)
            self.oom_fallbacks += 1
            torch.cuda.empty_cache()
            self._place("cpu")
            return self._run(inputs)


class OnnxRunner:
    """The exported network in onnxruntime (CPU, or CUDA when the provider is installed)."""

    def __init__(self, path: str | Path | bytes, device: str = "cpu", threads: int = 0) -> None:
        """``path``: an ``.onnx`` file, or the serialized model itself (:func:`onnx_model_bytes`)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = onnxruntime.InferenceSession(path if isinstance(path, bytes) else str(path), options,
                                                        providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types
            raise BadInputError(_source_name(path), f"not a loadable ONNX completion model: {error}") from error
        self.source = _source_name(path)
        names = tuple(i.name for i in self.session.get_inputs())
        if names != ONNX_INPUTS:
            raise BadInputError(self.source, f"expected inputs {ONNX_INPUTS}, found {names}")
        outputs = tuple(o.name for o in self.session.get_outputs())
        if not set(ONNX_OUTPUTS) <= set(outputs):
            raise BadInputError(self.source, f"expected outputs {ONNX_OUTPUTS}, found {outputs}")
        rgb_shape = self.session.get_inputs()[0].shape  # (1, 3, H, W); str or None = dynamic
        self.fixed_size = tuple(rgb_shape[2:4]) if all(isinstance(d, int) for d in rgb_shape[2:4]) else None
        self.device = "cpu" if providers[0] == "CPUExecutionProvider" else device
        self.oom_fallbacks = 0

    def __call__(self, rgb: np.ndarray, sparse: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(depth, confidence) (H, W) for one frame; raises BadInputError when the graph was
        exported for a fixed size other than the frame's or answers with another size."""
        size = sparse.shape[:2]
        if self.fixed_size is not None and self.fixed_size != size:
            raise BadInputError(self.source, f"the graph takes {self.fixed_size[1]}x{self.fixed_size[0]} images only "
                                             f"(fixed input size), the frame is {size[1]}x{size[0]} after padding; "
                                             "export it with dynamic image axes ('dcr export --format onnx')")
        depth, confidence = self.session.run(list(ONNX_OUTPUTS), network_inputs(rgb, sparse, prior))
        if depth.shape[-2:] != size or confidence.shape[-2:] != size:
            raise BadInputError(self.source, f"the graph answered depth {tuple(depth.shape)} and confidence "
                                             f"{tuple(confidence.shape)} for a {size[1]}x{size[0]} frame; expected "
                                             f"(1, 1, {size[0]}, {size[1]}): not a completion network of this package")
        return depth[0, 0], confidence[0, 0]


def _source_name(path: str | Path | bytes) -> str:
    return "the in-memory ONNX export" if isinstance(path, bytes) else str(path)


def onnx_model_bytes(model: CompletionNet, width: int = 1216, height: int = 352) -> bytes:
    """The network as a serialized ONNX model with dynamic height and width (multiples of
    ``model.stride``); ``width x height`` is only the size traced for the export. Radar
    networks are not exported (their point-list input is torch-only here)."""
    if model.config.radar_points:
        raise BadInputError("export", "radar networks run in torch only; export them with --format pt")
    model = model.eval().cpu()
    example = network_inputs(np.zeros((height, width, 3), np.uint8), np.ones((height, width), np.float32),
                             np.ones((height, width), np.float32))
    args = tuple(torch.from_numpy(example[name]) for name in ONNX_INPUTS)
    image_axes = {2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the tracer's note on the network's Python-level branches
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(model, args, buffer, input_names=list(ONNX_INPUTS), output_names=list(ONNX_OUTPUTS),
                          dynamic_axes={"rgb": image_axes, "sparse": image_axes, "prior": image_axes,
                                        "depth": image_axes, "confidence": image_axes},
                          opset_version=ONNX_OPSET, dynamo=False)
    return buffer.getvalue()


def export_onnx(model: CompletionNet, path: str | Path, width: int = 1216, height: int = 352) -> Path:
    """Write :func:`onnx_model_bytes` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_model_bytes(model, width, height))
    return path
