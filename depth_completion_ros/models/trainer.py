"""A small, generic training loop: seed, progress, validation, checkpoints, resume, DDP.

A :class:`Task` knows the model, the loss of a batch and how to validate; :func:`fit`
does the rest. Checkpoints (``last.pt`` every epoch, ``best.pt`` on the best validation
score) hold ``architecture`` and ``config`` (plain types) beside the state dicts, and load
with ``torch.load(weights_only=True)``.

DDP: started under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), :func:`fit` joins
a ``gloo`` process group (``nccl`` on CUDA), shards the training set with a
``DistributedSampler`` and wraps the model in ``DistributedDataParallel``; rank 0 alone
logs, validates and writes checkpoints.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from depth_completion_ros.errors import BadInputError


@dataclass(frozen=True)
class TrainerConfig:
    """Training-loop options.

    Attributes:
        out_dir: where ``last.pt``, ``best.pt`` and ``history.json`` go.
        epochs: number of passes over the training set.
        batch_size, learning_rate, weight_decay: AdamW, warm-up then cosine decay over all steps.
        seed: seeds python, numpy and torch (and the shuffling).
        num_threads: torch CPU threads (keep 1 on a shared machine).
        max_minutes: stop (after saving) when the wall time exceeds this; None = no limit.
        device: ``cpu`` or ``cuda``.
        progress: show a progress bar (else a log line every ``log_every`` steps).
        log_every: steps between log lines.
    """

    out_dir: str
    epochs: int = 10
    batch_size: int = 1
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    num_threads: int = 1
    max_minutes: float | None = None
    device: str = "cpu"
    progress: bool = True
    log_every: int = 20


class Task(Protocol):
    """What :func:`fit` trains."""

    model: nn.Module
    architecture: str

    def config_dict(self) -> dict:
        """The model's architecture config, plain types (stored in checkpoints)."""

    def loss(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one batch (already on the device) and its named terms."""

    def validate(self, model: nn.Module, data: Dataset, device: str) -> dict[str, float]:
        """Validation metrics; ``score`` (higher is better) picks ``best.pt``."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_checkpoint(path: str | Path, architecture: str) -> dict:
    """A checkpoint dict, checked to be of ``architecture`` (BadInputError naming both otherwise)."""
    try:
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which file and why
        raise BadInputError(str(path), f"is not a readable checkpoint ({type(error).__name__}: {error})") from None
    found = checkpoint.get("architecture") if isinstance(checkpoint, dict) else None
    if found != architecture:
        raise BadInputError(str(path), f"holds architecture '{found}', expected '{architecture}'")
    return checkpoint


def _warmup_cosine(step: int, total_steps: int, warmup_fraction: float = 0.05) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to 1 % at ``total_steps`` (held after)."""
    warmup = max(1, int(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return float(0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * progress)))


def _to_device(batch: dict, device: str) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _distributed() -> tuple[int, int]:
    """(rank, world size), joining the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def fit(task: Task, train_set: Dataset, val_set: Dataset | None, config: TrainerConfig, resume: bool = False,
        log: Callable[[str], None] = print) -> dict:
    """Train ``task.model``; returns the history (per-epoch losses and validation metrics)."""
    rank, world = _distributed()
    torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = task.model.to(config.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=config.seed) if world > 1 else None
    generator = torch.Generator().manual_seed(config.seed)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=generator, drop_last=len(train_set) >= config.batch_size)
    total_steps = max(1, config.epochs * len(loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _warmup_cosine(step, total_steps))
    history: dict = {"epochs": [], "config": asdict(config)}
    start_epoch, best = 0, -float("inf")
    if resume and (out / "last.pt").exists():
        state = load_checkpoint(out / "last.pt", task.architecture)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best = int(state["epoch"]) + 1, float(state["best_score"])
        history = json.loads((out / "history.json").read_text()) if (out / "history.json").exists() else history
        log(f"resumed from {out / 'last.pt'} at epoch {start_epoch}")
    trained = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    started = time.monotonic()
    out_of_time = False
    for epoch in range(start_epoch, config.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        sums: dict[str, float] = {}
        steps = 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (config.progress and rank == 0))
        for batch in bar:
            loss, terms = task.loss(trained, _to_device(batch, config.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
            for key, value in {"loss": loss.item(), **terms}.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(loss=f"{sums['loss'] / steps:.4f}")
            if rank == 0 and not config.progress and steps % config.log_every == 0:
                log(f"epoch {epoch + 1} step {steps}/{len(loader)} loss {sums['loss'] / steps:.4f} "
                    f"({time.monotonic() - started:.0f} s)")
            if config.max_minutes is not None and time.monotonic() - started > 60 * config.max_minutes:
                out_of_time = True
                break
        record = {"epoch": epoch + 1, "steps": steps, "seconds": round(time.monotonic() - started, 1),
                  **{f"train_{k}": v / max(steps, 1) for k, v in sums.items()}}
        if rank == 0:
            if val_set is not None:
                model.eval()
                with torch.no_grad():
                    record.update({f"val_{k}": v for k, v in task.validate(model, val_set, config.device).items()})
            score = record.get("val_score", -record.get("train_loss", 0.0))
            history["epochs"].append(record)
            log(json.dumps(record))
            checkpoint = {"architecture": task.architecture, "config": task.config_dict(),
                          "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "epoch": epoch, "best_score": max(best, score)}
            torch.save(checkpoint, out / "last.pt")
            if score > best:
                best = score
                torch.save(checkpoint, out / "best.pt")
            (out / "history.json").write_text(json.dumps(history, indent=1))
        if out_of_time:
            log(f"stopping: the time budget of {config.max_minutes} min is used up")
            break
    if world > 1:
        dist.barrier()
    return history
