"""Checkpoints: state_dict + model config + training config + metrics, loaded safely.

A checkpoint is a plain dict (loadable with ``torch.load(weights_only=True)``)::

    {"format": 1, "kind": "completion" | "teacher" | "occdepth" | "occupancy_geometry", "model_config": {...},
     "state_dict": {...}, "train_config": {...}, "metrics": {...},
     "progress": {"stage": str, "epoch": int}, "optimizer": {...}, "raw_state_dict": {...}
     (the last two for resuming training only)}

:func:`load_model` checks the architecture before building: every tensor's shape must
match the model the config declares, and a mismatch names the expected and found shapes.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.files import is_lfs_pointer, unreadable_reason
from depth_completion_ros.models.completion_net import CompletionNet, CompletionNetConfig
from depth_completion_ros.models.teacher import TeacherNet

CHECKPOINT_FORMAT = 1


def model_kinds() -> dict[str, tuple[Callable[..., nn.Module], type]]:
    """Each checkpoint kind's network factory and architecture config class (the occupancy
    modules are imported here, not at the top: they import this module)."""
    from depth_completion_ros.models.occupancy import OccDepthConfig, OccDepthNet
    from depth_completion_ros.models.occupancy_geometry import KIND, GeometryNetConfig, build_geometry_net

    return {"completion": (CompletionNet, CompletionNetConfig), "teacher": (TeacherNet, CompletionNetConfig),
            "occdepth": (OccDepthNet, OccDepthConfig), KIND: (build_geometry_net, GeometryNetConfig)}


def save_checkpoint(path: str | Path, kind: str, model: nn.Module, train_config: Mapping | None = None,
                    metrics: Mapping | None = None, progress: Mapping | None = None,
                    optimizer: Mapping | None = None, raw_state_dict: Mapping | None = None) -> Path:
    """Write a checkpoint of ``model`` (a :func:`model_kinds` network, or DDP around one).

    ``optimizer`` and ``raw_state_dict`` (the un-averaged weights when the model is an
    exponential moving average) are only for resuming training.
    """
    module = model.module if hasattr(model, "module") else model
    payload = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "model_config": module.config.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in module.state_dict().items()},
        "train_config": dict(train_config or {}),
        "metrics": dict(metrics or {}),
        "progress": dict(progress or {}),
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer
    if raw_state_dict is not None:
        payload["raw_state_dict"] = dict(raw_state_dict)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)  # atomic: a crash never leaves half a checkpoint
    return path


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a training epoch, raised after the weights of that moment were saved.

    Attributes:
        saved: the checkpoint of the interrupted epoch (:func:`interrupted_checkpoint`).
        where: "epoch E after S of N step(s)".
    """

    def __init__(self, saved: Path, where: str) -> None:
        super().__init__(where)
        self.saved, self.where = saved, where


def interrupted_checkpoint(path: str | Path, kind: str, model: nn.Module, train_config: Mapping, metrics: Mapping,
                           epoch: int, steps_done: int, steps_per_epoch: int) -> TrainingInterrupted:
    """Save ``model`` as it is part-way through ``epoch`` (0-based) beside the epoch
    checkpoint ``path`` (``NAME.interrupted.pt``) and return the exception that says so.

    The file is a complete model checkpoint (``--weights`` takes it); its progress is
    marked ``interrupted``. Resuming still starts from ``path``, the last finished epoch:
    the data order of a half-done epoch is not replayed.
    """
    path = Path(path)
    saved = path.with_name(f"{path.stem}.interrupted{path.suffix}")
    save_checkpoint(saved, kind, model, train_config, metrics,
                    {"epoch": epoch, "steps_done": steps_done, "steps_per_epoch": steps_per_epoch,
                     "interrupted": True})
    return TrainingInterrupted(saved, f"epoch {epoch + 1} after {steps_done} of {steps_per_epoch} step(s)")


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; a corrupt file is a :class:`BadInputError`."""
    path = Path(path)
    if not path.is_file() or is_lfs_pointer(path) or path.stat().st_size == 0:
        raise BadInputError(str(path), unreadable_reason(path, "a checkpoint"))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling raises many types for a corrupt or foreign file
        if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
            raise BadInputError(str(path), "not a readable checkpoint: it holds Python objects other than tensors "
                                           "and plain values, which a weights-only load refuses (unpickling them "
                                           "could run code); use a file written by 'dcr train' or 'dcr export'") \
                from error
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise BadInputError(str(path), f"not a readable checkpoint: {type(error).__name__}: {first_line}") from error
    missing = {"kind", "model_config", "state_dict"} - set(payload) if isinstance(payload, dict) else {"a dict"}
    if missing:
        raise BadInputError(str(path), f"not a depth_completion_ros checkpoint: missing {sorted(missing)}")
    return payload


def check_state_dict(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise :class:`BadInputError` naming the first differing tensors (missing, unexpected, shape)."""
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    mismatched = [key for key in expected if key in found and tuple(expected[key].shape) != tuple(found[key].shape)]
    problems = []
    if mismatched:
        problems.append("; ".join(f"{key}: expected shape {tuple(expected[key].shape)}, found {tuple(found[key].shape)}"
                                  for key in mismatched[:3]))
    if missing:
        problems.append(f"missing {missing[:3]}")
    if unexpected:
        problems.append(f"unexpected {unexpected[:3]}")
    if problems:
        raise BadInputError(source, "architecture mismatch: " + " | ".join(problems))


def blend_state_dicts(tuned: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor], weight: float,
                      source: str) -> dict[str, torch.Tensor]:
    """Weight-space ensemble of a fine-tuned network and the network it started from (WiSE-FT,
    Wortsman et al., CVPR 2022): ``weight * tuned + (1 - weight) * base`` per floating-point
    tensor (integer buffers from ``tuned``). Keeps most of the fine-tuning's gain while giving
    back the base network's robustness to other data.

    Args:
        tuned, base: state dicts of the same architecture (else a :class:`BadInputError`
            naming ``source``).
        weight: in [0, 1]; 1 = ``tuned``.
    """
    if not 0.0 <= weight <= 1.0:
        raise BadInputError(source, f"blend weight {weight} is not in [0, 1]")
    check_state_dict(tuned, base, source)
    return {key: (weight * value + (1.0 - weight) * base[key]).to(value.dtype) if value.is_floating_point() else value
            for key, value in tuned.items()}


def load_model(path: str | Path, kind: str, expected_config=None, payload: dict | None = None
               ) -> tuple[nn.Module, dict]:
    """Build the network a checkpoint declares and load its weights.

    Args:
        path: checkpoint file.
        kind: one of :func:`model_kinds` (``completion``, ``teacher``, ``occdepth``,
            ``occupancy_geometry``).
        expected_config: if given, the checkpoint must declare this architecture.
        payload: an already-read checkpoint of ``path`` (avoids reading twice).

    Returns:
        ``(model in eval mode on the CPU, checkpoint dict)``.

    Raises:
        BadInputError: unreadable file, wrong kind, or an architecture mismatch (naming
            the expected and found shapes).
    """
    payload = read_checkpoint(path) if payload is None else payload
    if payload["kind"] != kind:
        raise BadInputError(str(path), f"is a '{payload['kind']}' checkpoint, expected '{kind}'")
    kinds = model_kinds()
    if kind not in kinds:
        raise BadInputError(str(path), f"kind '{kind}' is not one of {sorted(kinds)}")
    factory, config_class = kinds[kind]
    try:
        config = config_class.from_dict(payload["model_config"])
    except (KeyError, TypeError, ValueError) as error:
        raise BadInputError(str(path), f"invalid model_config {payload['model_config']}: {error}") from error
    model = factory(expected_config or config)
    check_state_dict(model.state_dict(), payload["state_dict"], str(path))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload
