"""Training the RGB OccDepth stereo occupancy network on the simulator (``dcr train occupancy``).

The YAML config has four sections (see ``config/train/occupancy_cpu.yaml``):

- ``model``: :class:`~.occupancy.OccDepthConfig` fields (grid, image size, widths, bins);
- ``data``: ``train`` and ``val`` caches (``folder``, ``length``, ``seed``), built by
  :func:`~.occupancy_data.build_cache` when missing, plus ``scene`` and ``grid_factor``;
- ``trainer``: :class:`OccDepthTrainConfig` fields; ``loss``: :class:`~.occupancy.LossWeights`.

The loop is the completion trainer's (:mod:`.train`: ``setup_distributed`` / ``LOCAL_RANK``
(each DDP rank on its own GPU), ``epoch_batches`` (warm-up + cosine learning rate, batches
on the device), ``optimizer_step`` with AMP on CUDA, clipping and the EMA; :mod:`.checkpoint`'s
atomic ``weights_only`` format, kind ``occdepth``). ``out_dir/occdepth_last.pt`` (with the optimizer and raw
weights, for ``--resume``) is written every epoch, ``out_dir/occdepth.pt`` (the shipped
file: EMA weights alone) at the best validation IoU.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from depth_completion_ros.datasets.semantic_kitti import SSCMetrics
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.models.occupancy import (
    KIND,
    LossWeights,
    OccDepthConfig,
    OccDepthNet,
    class_weights_from_counts,
    occupancy_loss,
    predict_labels,
)
from depth_completion_ros.models.occupancy_data import CacheSpec, OccupancyCache, build_cache


@dataclass(frozen=True)
class OccDepthTrainConfig:
    """The ``trainer`` section.

    Attributes:
        out_dir: where ``occdepth_last.pt`` and ``occdepth.pt`` go.
        epochs: passes over the training set; ``batch_size``, ``learning_rate``,
            ``weight_decay``: AdamW with warm-up then cosine decay over all steps.
        ema_decay: weight averaging of the validated and shipped weights (0: none).
        seed: seeds torch and the shuffling; ``num_threads``: torch CPU threads.
        max_minutes: stop after the epoch in which the wall time passes this (None: no limit).
        device: ``cpu`` or ``cuda`` (each ``torchrun`` rank takes GPU ``LOCAL_RANK``).
        progress: a progress bar (else a log line every ``log_every`` steps).
    """

    out_dir: str
    epochs: int = 10
    batch_size: int = 1
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.0
    seed: int = 0
    num_threads: int = 1
    max_minutes: float | None = None
    device: str = "cpu"
    progress: bool = True
    log_every: int = 20


def class_counts(dataset: OccupancyCache, num_classes: int) -> torch.Tensor:
    """(C,) voxel counts per class over the observed voxels of a cache."""
    counts = torch.zeros(num_classes, dtype=torch.int64)
    for index in range(len(dataset)):
        sample = dataset[index]
        counts += torch.bincount(sample["labels"][~sample["invalid"]].clamp(0, num_classes - 1),
                                 minlength=num_classes)
    return counts


def batch_loss(model: nn.Module, batch: dict, config: OccDepthConfig, class_weights: torch.Tensor,
               loss_weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The occupancy loss of one batch (on the model's device) and its named terms."""
    output = model(batch["left"], batch["right"], batch["P_left"], batch["P_right"], batch["T_camera_lidar"])
    return occupancy_loss(output, batch["labels"], batch["invalid"], batch["depth"], config.depth_bins,
                          class_weights.to(batch["labels"].device), loss_weights)


@torch.no_grad()
def validate(model: OccDepthNet, data: Dataset, device: str) -> dict[str, float]:
    """SemanticKITTI completion and semantic metrics over ``data`` (one sample at a time)."""
    metrics = SSCMetrics(model.config.num_classes)
    for index in range(len(data)):
        sample = {k: v[None].to(device) for k, v in data[index].items()}
        logits = model(sample["left"], sample["right"], sample["P_left"], sample["P_right"],
                       sample["T_camera_lidar"]).logits
        metrics.add(predict_labels(logits)[0][0].cpu().numpy(), sample["labels"][0].cpu().numpy(),
                    sample["invalid"][0].cpu().numpy())
    return metrics.summary()


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
    """Build the caches if needed and train (:func:`fit_occdepth`); returns the history."""
    model_config = OccDepthConfig.from_dict(_section(config, "model", OccDepthConfig))
    settings = OccDepthTrainConfig(**_section(config, "trainer", OccDepthTrainConfig))
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
    weights = class_weights_from_counts(class_counts(splits["train"], model_config.num_classes))
    log(f"class weights: {np.round(weights.numpy(), 3).tolist()}")
    return fit_occdepth(model_config, splits["train"], splits.get("val"), settings, weights,
                        LossWeights(**_section(config, "loss", LossWeights)), resume, log)


def fit_occdepth(model_config: OccDepthConfig, train_set: Dataset, val_set: Dataset | None,
                 settings: OccDepthTrainConfig, class_weights: torch.Tensor, loss_weights: LossWeights = LossWeights(),
                 resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train an :class:`OccDepthNet` of ``model_config``; returns the history (per-epoch
    losses and validation metrics). See the module docstring for the files written."""
    from depth_completion_ros.models.checkpoint import interrupted_checkpoint, read_checkpoint, save_checkpoint
    from depth_completion_ros.training.completion import epoch_batches, optimizer_step, setup_distributed

    env = setup_distributed(settings.device)
    torch.set_num_threads(settings.num_threads)
    torch.manual_seed(settings.seed)
    out = Path(settings.out_dir)
    last_path, best_path = out / "occdepth_last.pt", out / "occdepth.pt"
    model = OccDepthNet(model_config).to(env.device)
    average = copy.deepcopy(model).eval() if settings.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    history: dict = {"epochs": [], "config": asdict(settings)}
    first_epoch, best = 0, -math.inf
    if resume and last_path.is_file():
        payload = read_checkpoint(last_path)
        model.load_state_dict(payload.get("raw_state_dict", payload["state_dict"]))
        if average is not None:
            average.load_state_dict(payload["state_dict"])
        optimizer.load_state_dict(payload["optimizer"])
        first_epoch = int(payload["progress"]["epoch"])
        best = float(payload["metrics"].get("best_iou", -math.inf))
        history["epochs"] = list(json.loads(payload["metrics"].get("history", "[]")))
        log(f"resumed from {last_path} after epoch {first_epoch}")
    sampler = DistributedSampler(train_set, env.world, env.rank, shuffle=True, seed=settings.seed) \
        if env.world > 1 else None
    loader = DataLoader(train_set, batch_size=settings.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=torch.Generator().manual_seed(settings.seed),
                        drop_last=len(train_set) >= settings.batch_size)
    total = max(1, settings.epochs * len(loader))
    use_cuda = env.device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda)
    trained = nn.parallel.DistributedDataParallel(model) if env.world > 1 else model
    started = time.monotonic()
    for epoch in range(first_epoch, settings.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        trained.train()
        sums: dict[str, float] = {}
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not (settings.progress and env.is_main))
        steps_done = 0
        try:
            for step, batch in epoch_batches(bar, optimizer, settings.learning_rate, epoch * len(loader), total,
                                             env.device):
                with torch.autocast("cuda", dtype=torch.float16, enabled=use_cuda):
                    loss, terms = batch_loss(trained, batch, model_config, class_weights, loss_weights)
                optimizer_step(loss, optimizer, scaler, trained, model, average, settings.ema_decay)
                steps_done = step + 1
                for key, value in {"loss": float(loss.detach()), **terms}.items():
                    sums[key] = sums.get(key, 0.0) + value
                bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.4f}")
                if env.is_main and not settings.progress and (step + 1) % settings.log_every == 0:
                    log(f"epoch {epoch + 1} step {step + 1}/{len(loader)} loss {sums['loss'] / (step + 1):.4f} "
                        f"({time.monotonic() - started:.0f} s)")
        except KeyboardInterrupt:
            if not env.is_main:
                raise
            raise interrupted_checkpoint(last_path, KIND, average if average is not None else model, asdict(settings),
                                         {"best_iou": best}, epoch, steps_done, len(loader)) from None
        if env.is_main:
            shipped = average if average is not None else model
            steps = max(1, len(loader))
            record = {"epoch": epoch + 1, "seconds": round(time.monotonic() - started, 1),
                      **{f"train_{k}": v / steps for k, v in sums.items()}}
            if val_set is not None:
                shipped.eval()
                record.update({f"val_{k}": v for k, v in validate(shipped, val_set, env.device).items()})
            score = record.get("val_iou", -record.get("train_loss", 0.0))
            history["epochs"].append(record)
            log(json.dumps(record))
            if score > best:
                best = score
                save_checkpoint(best_path, KIND, shipped, asdict(settings), record, {"stage": KIND, "epoch": epoch + 1})
            raw = None if average is None else {k: v.detach().cpu() for k, v in model.state_dict().items()}
            save_checkpoint(last_path, KIND, shipped, asdict(settings),
                            {"best_iou": best, "history": json.dumps(history["epochs"])},
                            {"stage": KIND, "epoch": epoch + 1}, optimizer.state_dict(), raw)
        if env.world > 1:
            torch.distributed.barrier()
        if settings.max_minutes is not None and time.monotonic() - started > 60 * settings.max_minutes:
            log(f"stopping after epoch {epoch + 1}: the time budget of {settings.max_minutes} min is used up")
            break
    if env.world > 1:
        torch.distributed.destroy_process_group()
    return history
