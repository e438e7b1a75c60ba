"""``dcr export``: the completion network as ONNX for onnxruntime, or as a shippable checkpoint.

``--format pt`` writes the checkpoint without its optimizer state (what ``weights/`` ships);
``--blend-with BASE --blend W`` first blends the weights with those of the network they were
fine-tuned from (``W * weights + (1 - W) * BASE``, WiSE-FT); ``--format onnx``:

The exported graph takes ``rgb`` (1, 3, H, W) in [0, 1], ``sparse`` and ``prior``
(1, 1, H, W) metres and ``scale`` (1,) metres, with H and W any multiples of 32, and
returns ``depth`` and ``confidence``. Use it with ``--method learned --weights FILE.onnx``.
After export the ONNX output is checked against torch on a random frame (max abs
difference printed; the export fails above 1 cm).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depth_completion_ros.cli.paths import output_file
from depth_completion_ros.errors import BadInputError

PARITY_TOLERANCE_M = 0.01


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="onnx", choices=("onnx", "pt"), help="export format (default: %(default)s)")
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="completion (or, for pt, teacher) checkpoint (default: the shipped completion_small.pt)")
    parser.add_argument("--blend-with", type=Path, metavar="BASE",
                        help="a checkpoint of the same network that --weights was fine-tuned from: export "
                             "BLEND * weights + (1 - BLEND) * BASE (weight-space ensemble, WiSE-FT)")
    parser.add_argument("--blend", type=float, default=1.0, metavar="W",
                        help="weight of --weights in the blend, 0-1 (default: %(default)s = --weights alone)")
    parser.add_argument("--output", required=True, type=output_file, metavar="FILE", help="the .onnx / .pt file to write")
    parser.add_argument("--width", type=int, default=1216, help="traced width (any multiple of 32 runs)")
    parser.add_argument("--height", type=int, default=352, help="traced height")


def parity_check(model, onnx_path: Path, width: int, height: int, seed: int = 0) -> float:
    """Max abs depth difference (m) between torch and onnxruntime on a random frame."""
    import numpy as np

    from depth_completion_ros.models.inference import OnnxRunner, TorchRunner
    from depth_completion_ros.pipeline.classical import classical_fill

    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    sparse = np.where(rng.random((height, width)) < 0.05, rng.uniform(2, 80, (height, width)), 0).astype(np.float32)
    prior = classical_fill(sparse, None)
    torch_depth, _ = TorchRunner(model, "cpu", channels_last=False)(rgb, sparse, prior)
    onnx_depth, _ = OnnxRunner(onnx_path)(rgb, sparse, prior)
    return float(np.max(np.abs(torch_depth - onnx_depth)))


def _load(weights: Path, blend_with: Path | None, blend: float, kind: str | None = None) -> tuple[object, dict]:
    """``(model, checkpoint dict)`` of ``weights`` (of ``kind``, default the checkpoint's own),
    blended with ``blend_with`` when given (the blend is recorded in the dict's ``progress``)."""
    from depth_completion_ros.models.checkpoint import blend_state_dicts, load_model, read_checkpoint

    payload = read_checkpoint(weights)
    model, _ = load_model(weights, kind or payload["kind"], payload=payload)
    if blend_with is not None:
        base, _ = load_model(blend_with, payload["kind"])
        model.load_state_dict(blend_state_dicts(model.state_dict(), base.state_dict(), blend, str(blend_with)))
        payload["progress"] = {**payload.get("progress", {}), "blended_with": str(blend_with), "blend": blend}
    elif blend != 1.0:
        raise BadInputError("--blend", "needs --blend-with (the network to blend with)")
    return model, payload


def _export_checkpoint(weights: Path, output: Path, blend_with: Path | None, blend: float) -> int:
    """Re-save a checkpoint without its optimizer state (after validating its architecture)."""
    from depth_completion_ros.models.checkpoint import save_checkpoint

    model, payload = _load(weights, blend_with, blend)
    save_checkpoint(output, payload["kind"], model, payload.get("train_config"), payload.get("metrics"),
                    payload.get("progress"))
    blended = f", blended {blend:g} : {1 - blend:g} with {blend_with}" if blend_with else ""
    print(f"{weights} -> {output} ({output.stat().st_size / 1e6:.2f} MB, {payload['kind']}{blended})")
    return 0


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.models.inference import export_onnx
    from depth_completion_ros.pipeline.learned import SHIPPED_COMPLETION, shipped_weights

    try:
        weights = args.weights or shipped_weights(SHIPPED_COMPLETION)
        if args.format == "pt":
            return _export_checkpoint(weights, args.output, args.blend_with, args.blend)
        model, _ = _load(weights, args.blend_with, args.blend, "completion")
        if args.width % model.stride or args.height % model.stride:
            raise BadInputError("--width/--height", f"must be multiples of {model.stride}")
        export_onnx(model, args.output, args.width, args.height)
    except BadInputError as error:
        print(f"dcr export: error: {error}", file=sys.stderr)
        return 2
    difference = parity_check(model, args.output, args.width, args.height)
    print(f"{weights} -> {args.output}; torch vs onnxruntime max |depth difference| {difference * 1000:.3f} mm")
    if difference > PARITY_TOLERANCE_M:
        print(f"dcr export: error: parity above {PARITY_TOLERANCE_M * 100:.0f} cm", file=sys.stderr)
        return 1
    return 0
