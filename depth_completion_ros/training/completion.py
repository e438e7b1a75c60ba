"""Training of the relative-depth teacher and the completion network, in stages.

A run is a list of stages from a YAML config (see ``config/train/completion_small.yaml``):

* ``teacher``: the RGB-only :class:`~.teacher.TeacherNet` on dense depth with the SSI loss
  in disparity space (the default teacher of stage 2 and of ``mono_aligned``);
* ``completion`` with ``supervision: dense`` (DMD3C stage 1): simulator and RGB-D frames
  with random simulated LiDAR patterns, L1 + L2 + multi-scale gradient loss on depth
  normalized by the per-image scale;
* ``completion`` with ``supervision: sparse`` (stage 2): only held-out LiDAR rings after
  the occlusion filter supervise the metric depth, plus the SSI loss against the teacher's
  relative depth on all pixels;
* ``completion`` with ``supervision: lidar`` (the radar network, Sparse Beats Dense):
  radar input, single-sweep LiDAR after the occlusion filter as supervision, multi-scale
  Smooth-L1 on depth normalized by the per-image scale plus cross-entropy on the
  semantic-mask head (``mask_weight``). Validation: radar frames, single-sweep LiDAR
  ground truth, beside the radar column prior.

Each stage writes ``<out>/<stage>.pt`` after every epoch (model, optimizer, metrics), so
an interrupted run is usable and ``resume=True`` continues it. Validation after every
epoch: KITTI metrics on held-out simulator frames (every 4th ring as input, dense ground
truth up to 80 m), beside the classical prior's on the same frames.

Data parallel: started by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), each
process trains a :class:`~torch.nn.parallel.DistributedDataParallel` replica on its
share of every epoch (NCCL on CUDA, gloo on the CPU); rank 0 validates and writes.
AMP (fp16 autocast + gradient scaling) is used on CUDA.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from depth_completion_ros.config_files import check_mapping, load_yaml
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.metrics import DepthRange, image_metrics
from depth_completion_ros.models.augment import DisruptionConfig
from depth_completion_ros.models.checkpoint import (
    interrupted_checkpoint,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from depth_completion_ros.models.completion_net import PRESETS, CompletionNet, CompletionNetConfig, depth_scale
from depth_completion_ros.models.inference import TorchRunner
from depth_completion_ros.models.losses import (
    confidence_loss,
    depth_loss,
    disparity,
    gradient_loss,
    multiscale_smooth_l1,
    ssi_loss,
)
from depth_completion_ros.models.radar_input import radar_network_inputs
from depth_completion_ros.models.teacher import (
    TEACHER_PRESETS,
    NetworkTeacher,
    RelativeDepthTeacher,
    TeacherNet,
    load_external_teacher,
)
from depth_completion_ros.training.samples import (
    CacheDataset,
    PriorFill,
    SparsityConfig,
    evaluation_input,
    radar_evaluation_input,
    to_tensors,
)
from depth_completion_ros.datasets.cached_frame import CachedFrame, cache_files

STAGE_KINDS = ("teacher", "completion")
VALIDATION_RANGE = DepthRange("0-80m", 0.0, 80.0)


@dataclass(frozen=True)
class StageConfig:
    """One training stage.

    Attributes:
        name: also the checkpoint file name ``<out>/<name>.pt``.
        kind: ``teacher`` or ``completion``.
        supervision: ``dense`` or ``sparse`` (completion only; the teacher is dense).
        epochs: passes over ``samples_per_epoch`` samples.
        samples_per_epoch: samples per epoch (0 = every cached frame once).
        lr: AdamW learning rate (cosine-decayed to 5 % over the stage).
        gradient_weight, ssi_weight, confidence_weight, mask_weight: loss weights.
        l1_weight: weight of the L1 term of the depth loss beside its L2 term (0 = pure L2:
            the mean, what RMSE rewards, where the depth is ambiguous; L1 pulls to the median).
        cache: this stage's frame cache (default: the run's ``cache``), e.g. simulator frames
            for a dense stage between stages on real frames.
        ema_decay: if > 0, an exponential moving average of the weights (and BatchNorm
            statistics) is what is validated, saved as ``state_dict`` and handed to the next
            stage; the raw weights are kept in the checkpoint for resuming.
    """

    name: str
    kind: str
    supervision: str = "dense"
    epochs: int = 1
    samples_per_epoch: int = 0
    lr: float = 2e-3
    gradient_weight: float = 0.5
    ssi_weight: float = 0.0
    confidence_weight: float = 0.1
    mask_weight: float = 0.0
    l1_weight: float = 1.0
    ema_decay: float = 0.0
    cache: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """A training run (YAML keys of the same names).

    Attributes:
        model: completion preset (``small``, ``base``, ``tiny``) or a mapping of
            :class:`~.completion_net.CompletionNetConfig` fields; teacher: teacher preset.
        cache, val_cache: frame cache directories (``dcr train cache``).
        crop: (width, height) training crop, multiples of the model stride.
        val_frames: held-out frames validated after each epoch (0 = none).
        max_depth: metres; farther ground truth is not supervised (the simulator's dense depth
            reaches 160 m, where an L2 term would swamp everything nearer).
        threads: torch CPU threads per process.
        init: a completion checkpoint whose weights the completion network starts from
            (fine-tuning, e.g. on real frames; its architecture must be ``model``'s).
        teacher_weights: the SSI teacher of completion stages with ``ssi_weight`` when no
            teacher stage precedes them: a teacher checkpoint (e.g. the shipped
            ``weights/teacher_small.pt``) or a user ONNX / TorchScript file.
    """

    out: str
    cache: str
    stages: tuple[StageConfig, ...]
    val_cache: str | None = None
    model: str | dict = "small"
    teacher: str = "small"
    seed: int = 0
    threads: int = 2
    crop: tuple[int, int] = (320, 128)
    batch_size: int = 8
    num_workers: int = 1
    max_frames: int = 0
    val_frames: int = 16
    max_depth: float = 80.0
    weight_decay: float = 1e-4
    disruption: DisruptionConfig = field(default_factory=DisruptionConfig)
    sparsity: SparsityConfig = field(default_factory=SparsityConfig)
    init: str | None = None
    teacher_weights: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        try:
            stages = tuple(StageConfig(**stage) for stage in data.pop("stages"))
            disruption = DisruptionConfig.from_dict(data.pop("disruption", {}))
            sparsity = SparsityConfig(**data.pop("sparsity", {}))
            crop = tuple(int(v) for v in data.pop("crop", (320, 128)))
            config = cls(stages=stages, disruption=disruption, sparsity=sparsity, crop=crop, **data)
        except (KeyError, TypeError) as error:
            raise BadInputError("training config", str(error)) from error
        has_teacher = bool(config.teacher_weights)
        for stage in config.stages:
            if stage.kind not in STAGE_KINDS:
                raise BadInputError("training config", f"stage '{stage.name}': kind must be one of {STAGE_KINDS}")
            if stage.kind == "completion" and stage.ssi_weight and not has_teacher:
                raise BadInputError("training config", f"stage '{stage.name}' has ssi_weight {stage.ssi_weight} but no "
                                    "teacher: put a teacher stage before it or give teacher_weights")
            has_teacher = has_teacher or stage.kind == "teacher"
        return config

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """The configuration in YAML file ``path``; every key and value is checked against the
        dataclasses first, so a typo or a wrong type names the file and the key."""
        data = load_yaml(path, "training config")
        if "stages" not in data:
            raise BadInputError(f"{path}: stages", "missing: a training config lists its stages")
        check_mapping(cls, data, str(path))
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        """JSON/YAML-ready (tuples as lists), stored in every checkpoint."""
        def plain(value):
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            if hasattr(value, "__dataclass_fields__"):
                return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
            return value

        return plain(self)


@dataclass
class Distributed:
    """This process's place in a data-parallel run (world 1 = not distributed)."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> Distributed:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1 (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed(0, 1, device)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    rank = dist.get_rank()
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return Distributed(rank, world, device)


def completion_config(model: str | dict) -> CompletionNetConfig:
    """A preset name (``small``, ``base``, ``tiny``) or a mapping of :class:`CompletionNetConfig` fields."""
    if isinstance(model, str):
        if model not in PRESETS:
            raise BadInputError("training config", f"model preset '{model}' is not one of {sorted(PRESETS)}")
        return PRESETS[model]
    try:
        return CompletionNetConfig.from_dict(model)
    except (KeyError, TypeError, ValueError) as error:
        raise BadInputError("training config", f"model: {error!r}; give a preset name or widths/blocks/"
                            "decoder_width[/radar_points/mask_classes]") from error


def _build(kind: str, config: TrainConfig) -> nn.Module:
    if kind == "completion" and config.init:
        model, _ = load_model(config.init, "completion", expected_config=completion_config(config.model))
        return model.train()
    if kind == "completion":
        return CompletionNet(completion_config(config.model))
    return TeacherNet(TEACHER_PRESETS[config.teacher])


def load_teacher_weights(path: str | Path, device: str = "cpu") -> RelativeDepthTeacher:
    """The teacher in ``path``: a teacher checkpoint of this project, or a user ONNX / TorchScript file."""
    if Path(path).suffix != ".onnx":
        try:
            payload = read_checkpoint(path)
        except BadInputError:
            payload = None  # not a checkpoint: a TorchScript file (or an error that says so)
        if payload is not None:
            model, _ = load_model(path, "teacher", payload=payload)
            return NetworkTeacher(model, device)
    return load_external_teacher(path, device)


def _check_crop(config: TrainConfig, stride: int) -> None:
    if config.crop[0] % stride or config.crop[1] % stride:
        raise BadInputError("crop", f"{config.crop} must be multiples of the model stride {stride}")


def _check_supervision(stage: StageConfig, model: nn.Module) -> None:
    """Radar networks train on ``lidar`` supervision, LiDAR networks on ``dense`` / ``sparse``."""
    if stage.kind != "completion":
        return
    radar = bool(model.config.radar_points)
    if radar != (stage.supervision == "lidar"):
        need = "a radar model (radar_points > 0, e.g. model: radar_small)" if not radar else \
            "supervision: lidar (radar input, single-sweep LiDAR supervision)"
        raise BadInputError("training config", f"stage '{stage.name}' (supervision {stage.supervision}) needs {need}")


def _stage_loss(stage: StageConfig, model: nn.Module, batch: dict[str, torch.Tensor],
                teacher: RelativeDepthTeacher | None, max_depth: float) -> torch.Tensor:
    """The loss of one batch (see the module docstring)."""
    target = batch["target"]
    mask = (target > 0) & (target <= max_depth)
    if stage.kind == "teacher":
        return ssi_loss(model(batch["rgb"]), disparity(target), mask)
    if stage.supervision == "lidar":
        return _radar_loss(stage, model, batch, mask)
    depth, confidence = model(batch["rgb"], batch["sparse"], batch["prior"])
    scale = depth_scale(batch["sparse"])
    loss = depth_loss(depth / scale, target / scale, mask, stage.l1_weight)
    loss = loss + stage.confidence_weight * confidence_loss(confidence, depth, target, mask)
    if stage.gradient_weight and stage.supervision == "dense":
        loss = loss + stage.gradient_weight * gradient_loss(torch.log(depth), torch.log(target.clamp_min(1e-3)), mask)
    if stage.ssi_weight and teacher is not None:
        relative = teacher.predict(batch["rgb"]).clone()  # out of inference mode, usable in autograd
        loss = loss + stage.ssi_weight * ssi_loss(disparity(depth), relative, depth > 0)
    return loss


def _radar_loss(stage: StageConfig, model: nn.Module, batch: dict[str, torch.Tensor], mask: torch.Tensor
                ) -> torch.Tensor:
    """Multi-scale Smooth-L1 on depth / m at the LiDAR pixels + CE of the mask head + confidence."""
    scale = batch["scale"].view(-1, 1, 1, 1)
    depth, confidence, mask_logits = model(batch["rgb"], batch["sparse"], batch["prior"], scale, batch["column"],
                                           batch["radar"], batch["radar_valid"], with_mask=True)
    target = batch["target"]
    loss = multiscale_smooth_l1(depth / scale, target / scale, mask)
    loss = loss + stage.confidence_weight * confidence_loss(confidence, depth, target, mask)
    if stage.mask_weight:
        loss = loss + stage.mask_weight * F.cross_entropy(mask_logits, batch["semantic"])
    return loss


def _add_errors(errors: dict[str, list[float]], depth: np.ndarray, prior: np.ndarray, gt: np.ndarray) -> None:
    """Append one frame's RMSE/MAE (m) of ``depth`` and RMSE of ``prior`` against ``gt`` ((H, W) metres)."""
    for name, pred in (("", depth), ("prior_", prior)):
        values = image_metrics(pred, gt, VALIDATION_RANGE).values
        if values:
            errors[f"{name}rmse_m"].append(values["rmse_mm"] / 1000)
            if not name:
                errors["mae_m"].append(values["mae_mm"] / 1000)


def _validate_radar(module: nn.Module, frames: list[CachedFrame], device: str) -> dict[str, float]:
    """RMSE/MAE (m) of the radar network and of its column prior against single-sweep LiDAR."""
    runner = TorchRunner(module, device, channels_last=False)
    errors: dict[str, list[float]] = {"rmse_m": [], "mae_m": [], "prior_rmse_m": []}
    for frame in frames:
        rgb, radar, gt, camera = radar_evaluation_input(frame)
        height, width = (gt.shape[0] // module.stride) * module.stride, (gt.shape[1] // module.stride) * module.stride
        camera = camera.cropped(0, gt.shape[0] - height, width, height)
        rgb, gt = rgb[-height:, :width], gt[-height:, :width]
        inputs = radar_network_inputs(radar, camera, module.config.radar_points, road=module.config.radar_road)
        depth, _ = runner(rgb, inputs.sparse, inputs.prior, inputs)
        _add_errors(errors, depth, inputs.prior, gt)
    module.train()
    return {name: float(np.mean(v)) for name, v in errors.items() if v}


def validate(model: nn.Module, kind: str, frames: list[CachedFrame], prior_fill: PriorFill,
             device: str) -> dict[str, float]:
    """Held-out metrics: RMSE/MAE (m) of the model and of the prior, or the teacher's SSI loss."""
    module = model.module if hasattr(model, "module") else model
    if kind == "completion" and getattr(module.config, "radar_points", 0):
        return _validate_radar(module, frames, device)
    module.eval()
    errors: dict[str, list[float]] = {"rmse_m": [], "mae_m": [], "prior_rmse_m": [], "ssi": []}
    stride = module.stride
    with torch.inference_mode():
        for frame in frames:
            rgb, sparse, gt, _ = evaluation_input(frame)
            height, width = (sparse.shape[0] // stride) * stride, (sparse.shape[1] // stride) * stride
            rgb, sparse, gt = rgb[-height:, :width], sparse[-height:, :width], gt[-height:, :width]
            prior = prior_fill(sparse)
            batch = {k: v[None].to(device) for k, v in
                     to_tensors({"rgb": rgb, "sparse": sparse, "prior": prior, "target": gt}).items()}
            if kind == "teacher":
                relative = module(batch["rgb"])
                errors["ssi"].append(float(ssi_loss(relative, disparity(batch["target"]), batch["target"] > 0)))
                continue
            depth = module(batch["rgb"], batch["sparse"], batch["prior"])[0][0, 0].cpu().numpy()
            _add_errors(errors, depth, prior, gt)
    module.train()
    return {name: float(np.mean(v)) for name, v in errors.items() if v}


def _lr_factor(step: int, total: int) -> float:
    """Cosine decay from 1 to 0.05 with a short linear warm-up."""
    warmup = max(1, total // 50)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def update_ema(average: nn.Module, model: nn.Module, decay: float) -> None:
    """``average <- decay * average + (1 - decay) * model`` for float tensors; others are copied."""
    for mean, value in zip(average.state_dict().values(), model.state_dict().values()):
        if mean.is_floating_point():
            mean.lerp_(value, 1.0 - decay)
        else:
            mean.copy_(value)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler, trained: nn.Module,
                   model: nn.Module, average: nn.Module | None, ema_decay: float) -> None:
    """One mixed-precision step: backward through ``scaler``, gradient norm clipped at 5, the
    optimizer step, and the EMA ``average`` of ``model`` updated (``trained`` is ``model``
    or its DDP wrapper)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(trained.parameters(), 5.0)
    scaler.step(optimizer)
    scaler.update()
    if average is not None:
        update_ema(average, model, ema_decay)


def epoch_batches(loader: Iterable[dict[str, torch.Tensor]], optimizer: torch.optim.Optimizer, base_lr: float,
                  first_step: int, total_steps: int, device: str) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
    """``(step in the epoch, batch on device)`` for each batch of ``loader``, after setting the
    optimizer's learning rate for the run's step ``first_step + step`` of ``total_steps``
    (warm-up then cosine, :func:`_lr_factor`)."""
    for step, batch in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = base_lr * _lr_factor(first_step + step, total_steps)
        yield step, {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def run_stage(stage: StageConfig, model: nn.Module, config: TrainConfig, files: list[Path],
              val_frames: list[CachedFrame], prior_fill: PriorFill, env: Distributed,
              teacher: RelativeDepthTeacher | None, resume: bool, log: Callable[[str], None]) -> dict[str, float]:
    """Train one stage; returns the last validation metrics."""
    path = Path(config.out) / f"{stage.name}.pt"
    optimizer = torch.optim.AdamW(model.parameters(), lr=stage.lr, weight_decay=config.weight_decay)
    first_epoch, metrics = 0, {}
    average = copy.deepcopy(model).eval() if stage.ema_decay > 0 else None
    if resume and path.is_file():
        payload = read_checkpoint(path)
        loaded, _ = load_model(path, stage.kind, payload=payload)
        model.load_state_dict(payload.get("raw_state_dict", loaded.state_dict()))
        if average is not None:
            average.load_state_dict(loaded.state_dict())
        first_epoch, metrics = int(payload["progress"].get("epoch", 0)), dict(payload["metrics"])
        if "optimizer" in payload and first_epoch < stage.epochs:
            optimizer.load_state_dict(payload["optimizer"])
        log(f"[{stage.name}] resumed after epoch {first_epoch}")
    if first_epoch >= stage.epochs:
        if average is not None:
            model.load_state_dict(average.state_dict())
        return metrics
    supervision = "dense" if stage.kind == "teacher" else stage.supervision
    dataset = CacheDataset(files, config.crop, supervision, config.seed + 1000 * STAGE_KINDS.index(stage.kind),
                           prior_fill, config.disruption, config.sparsity,
                           getattr(model.config, "radar_points", 0) if stage.kind == "completion" else 0,
                           getattr(model.config, "radar_road", None) if stage.kind == "completion" else None)
    samples = stage.samples_per_epoch or len(dataset)
    use_cuda = env.device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda)
    trained = DistributedDataParallel(model) if env.world > 1 else model
    steps_per_epoch = math.ceil(samples / (config.batch_size * env.world))
    total_steps = steps_per_epoch * stage.epochs
    for epoch in range(first_epoch, stage.epochs):
        dataset.set_epoch(epoch)
        order = np.random.default_rng([config.seed, epoch, len(stage.name)]).choice(
            len(dataset), size=samples, replace=samples > len(dataset))
        subset = Subset(dataset, order.tolist())
        sampler = DistributedSampler(subset, env.world, env.rank, shuffle=False) if env.world > 1 else None
        loader = DataLoader(subset, batch_size=config.batch_size, sampler=sampler, num_workers=config.num_workers,
                            drop_last=True, persistent_workers=False)
        trained.train()
        losses, started = [], time.monotonic()
        progress = tqdm(loader, desc=f"{stage.name} {epoch + 1}/{stage.epochs}", disable=not env.is_main,
                        mininterval=10.0)
        try:
            for _, batch in epoch_batches(progress, optimizer, stage.lr, epoch * steps_per_epoch, total_steps,
                                          env.device):
                with torch.autocast("cuda", dtype=torch.float16, enabled=use_cuda):
                    loss = _stage_loss(stage, trained, batch, teacher, config.max_depth)
                optimizer_step(loss, optimizer, scaler, trained, model, average, stage.ema_decay)
                losses.append(float(loss.detach()))
                progress.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        except KeyboardInterrupt:
            if not env.is_main:
                raise
            raise interrupted_checkpoint(path, stage.kind, average if average is not None else model,
                                         config.to_dict(), metrics, epoch, len(losses), steps_per_epoch) from None
        if env.is_main:
            shipped = average if average is not None else model
            metrics = {"train_loss": float(np.mean(losses)) if losses else math.nan,
                       "epoch_seconds": time.monotonic() - started,
                       **validate(shipped, stage.kind, val_frames, prior_fill, env.device)}
            raw = None if average is None else {k: v.detach().cpu() for k, v in model.state_dict().items()}
            save_checkpoint(path, stage.kind, shipped, config.to_dict(), metrics,
                            {"stage": stage.name, "epoch": epoch + 1}, optimizer.state_dict(), raw)
            log(f"[{stage.name}] epoch {epoch + 1}/{stage.epochs} " + json.dumps(
                {k: round(v, 4) for k, v in metrics.items()}))
        if env.world > 1:
            dist.barrier()
    if average is not None:  # the next stage starts from the averaged weights
        model.load_state_dict(average.state_dict())
    return metrics


def train(config: TrainConfig, prior_fill: PriorFill, device: str = "cpu", resume: bool = False,
          log: Callable[[str], None] = print) -> dict[str, Path]:
    """Run every stage of ``config``; returns stage name -> checkpoint path (rank 0 writes them).

    Args:
        prior_fill: (H, W) sparse metres -> (H, W) prior; the pipeline's classical fill.
        device: ``cpu`` or ``cuda``; under torchrun each process takes its local GPU.
        resume: continue from the checkpoints already in ``config.out``.
    """
    env = setup_distributed(device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    def frames_of(cache: str) -> list[Path]:
        found = cache_files(cache)
        return found[: config.max_frames] if config.max_frames else found

    files = frames_of(config.cache)
    val_frames = [CachedFrame.load(p) for p in cache_files(config.val_cache)[: config.val_frames]] \
        if config.val_cache and config.val_frames and env.is_main else []
    if env.is_main:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        log(f"training on {len(files)} cached frames, {env.world} process(es), device {env.device}")
    models: dict[str, nn.Module] = {}
    teacher = load_teacher_weights(config.teacher_weights, env.device) if config.teacher_weights else None
    written: dict[str, Path] = {}
    try:
        for stage in config.stages:
            model = models.setdefault(stage.kind, _build(stage.kind, config).to(env.device))
            _check_crop(config, model.stride)
            _check_supervision(stage, model)
            stage_teacher = teacher if stage.kind == "completion" and stage.ssi_weight else None
            stage_files = frames_of(stage.cache) if stage.cache else files
            run_stage(stage, model, config, stage_files, val_frames, prior_fill, env, stage_teacher, resume, log)
            written[stage.name] = Path(config.out) / f"{stage.name}.pt"
            if stage.kind == "teacher":
                teacher = NetworkTeacher(_build("teacher", config), env.device)
                teacher.net.load_state_dict(model.state_dict())
                teacher.net.eval()
    finally:
        if env.world > 1:
            dist.barrier()  # no rank tears the group down while another still uses it
            dist.destroy_process_group()
    return written
