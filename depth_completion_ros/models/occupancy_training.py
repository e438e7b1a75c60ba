"""Training the stereo occupancy network on the simulator (``dcr train occupancy``).

The YAML config has three sections (see ``config/train/occupancy_cpu.yaml``):

- ``model``: :class:`~.occupancy.OccDepthConfig` fields (grid, image size, widths, bins);
- ``data``: ``train`` and ``val`` caches (``folder``, ``length``, ``seed``), built by
  :func:`~.occupancy_data.build_cache` when missing, plus ``scene`` and ``grid_factor``;
- ``trainer``: :class:`~.trainer.TrainerConfig` fields; and ``loss``: :class:`~.occupancy.LossWeights`.

At the end, ``out_dir/occdepth.pt`` holds the best weights alone (what ships in
``depth_completion_ros/weights/``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import Dataset

from depth_completion_ros.datasets.semantic_kitti import SSCMetrics
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.occupancy import (
    ARCHITECTURE,
    LossWeights,
    OccDepthConfig,
    OccDepthNet,
    class_weights_from_counts,
    occupancy_loss,
    predict_labels,
)
from depth_completion_ros.models.occupancy_data import CacheSpec, OccupancyCache, build_cache
from depth_completion_ros.models.trainer import TrainerConfig, fit, load_checkpoint


def class_counts(dataset: OccupancyCache, num_classes: int) -> torch.Tensor:
    """(C,) voxel counts per class over the observed voxels of a cache."""
    counts = torch.zeros(num_classes, dtype=torch.int64)
    for index in range(len(dataset)):
        sample = dataset[index]
        counts += torch.bincount(sample["labels"][~sample["invalid"]].clamp(0, num_classes - 1),
                                 minlength=num_classes)
    return counts


@dataclass
class OccupancyTask:
    """The :class:`~.trainer.Task` of the stereo occupancy network."""

    model: OccDepthNet
    class_weights: torch.Tensor
    loss_weights: LossWeights = LossWeights()
    architecture: str = ARCHITECTURE

    def config_dict(self) -> dict:
        return self.model.config.to_dict()

    def loss(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        output = model(batch["left"], batch["right"], batch["P_left"], batch["P_right"], batch["T_camera_lidar"])
        return occupancy_loss(output, batch["labels"], batch["invalid"], batch["depth"],
                              self.model.config.depth_bins, self.class_weights.to(batch["labels"].device),
                              self.loss_weights)

    def validate(self, model: nn.Module, data: Dataset, device: str) -> dict[str, float]:
        metrics = SSCMetrics(self.model.config.num_classes)
        for index in range(len(data)):
            sample = {k: v[None].to(device) for k, v in data[index].items()}
            logits = model(sample["left"], sample["right"], sample["P_left"], sample["P_right"],
                           sample["T_camera_lidar"]).logits
            metrics.add(predict_labels(logits)[0][0].cpu().numpy(), sample["labels"][0].cpu().numpy(),
                        sample["invalid"][0].cpu().numpy())
        summary = metrics.summary()
        return {**summary, "score": summary["iou"]}


def _section(config: dict, name: str, cls) -> dict:
    values = dict(config.get(name) or {})
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise BadInputError(f"config.{name}", f"unknown keys {sorted(unknown)}")
    return values


def load_train_config(path: str | Path) -> dict:
    """The parsed YAML config (sections ``model``, ``data``, ``trainer``, ``loss``)."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(config) - {"model", "data", "trainer", "loss"}
    if unknown:
        raise BadInputError(str(path), f"unknown sections {sorted(unknown)}")
    return config


def train_occupancy(config: dict, resume: bool = False, progress: bool = True, log=print) -> dict:
    """Build the caches if needed, train, and export ``out_dir/occdepth.pt``; returns the history."""
    model_config = OccDepthConfig.from_dict(_section(config, "model", OccDepthConfig))
    trainer_config = TrainerConfig(**_section(config, "trainer", TrainerConfig))
    data = dict(config.get("data") or {})
    splits = {}
    for split in ("train", "val"):
        entry = data.get(split)
        if entry is None:
            continue
        spec = CacheSpec(length=int(entry["length"]), seed=int(entry["seed"]), image_size=model_config.image_size,
                         grid_factor=int(data.get("grid_factor", 2)), scene=data.get("scene", "street"))
        splits[split] = OccupancyCache(build_cache(spec, entry["folder"], progress), limit=spec.length)
    if "train" not in splits:
        raise BadInputError("config.data.train", "is required")
    torch.set_num_threads(trainer_config.num_threads)
    torch.manual_seed(trainer_config.seed)
    model = OccDepthNet(model_config)
    weights = class_weights_from_counts(class_counts(splits["train"], model_config.num_classes))
    log(f"class weights: {np.round(weights.numpy(), 3).tolist()}")
    task = OccupancyTask(model, weights, LossWeights(**_section(config, "loss", LossWeights)))
    history = fit(task, splits["train"], splits.get("val"), trainer_config, resume=resume, log=log)
    out = Path(trainer_config.out_dir)
    best = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
    export_weights(best, out / "occdepth.pt")
    return history


def export_weights(checkpoint_path: str | Path, out_path: str | Path) -> Path:
    """Strip a training checkpoint to ``architecture``, ``config`` and ``model`` (float32 weights)."""
    checkpoint = load_checkpoint(checkpoint_path, ARCHITECTURE)
    torch.save({key: checkpoint[key] for key in ("architecture", "config", "model", "epoch")}, str(out_path))
    return Path(out_path)
