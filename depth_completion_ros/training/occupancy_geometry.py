"""Training data and training of the geometry-first occupancy network (``learned``).

Data (:func:`build_geometry_cache`): simulator street frames rendered in stereo through
randomized cameras (:func:`degrade_stereo`: exposure and gamma, vignetting, contrast loss /
fog, blur, sensor noise, JPEG, a vertical rectification error up to 0.5 px and calibration
jitter of the baseline and the right principal point), on two rigs (the KITTI rig, 0.54 m /
721 px, and a ZED-like rig, 0.12 m / 350 px at 672x376 on the RADIATE grid); the project's
own ``sgbm`` method runs on them, and its grid state plus the per-voxel SGBM hit counts are
cached as ``.npz`` beside the target. Target: the simulator's voxel occupancy (a voxel whose
centre lies in a solid) united with the voxels the true visible surface passes through (the
convention of a LiDAR-voxelized real target); loss mask: voxels the simulator observed that
lie in the left camera's view.

Training (:func:`train_geometry`) reuses the completion trainer's pieces
(:mod:`.train`: ``setup_distributed`` / ``LOCAL_RANK``, ``epoch_batches`` (warm-up + cosine
learning rate, batches on the device), ``optimizer_step`` with its EMA update; :mod:`.checkpoint`: atomic ``save_checkpoint`` in the
``torch.load(weights_only=True)`` format, ``read_checkpoint``): AdamW, fp16 autocast and
gradient scaling on CUDA, gradient clipping at 5, EMA weights validated and shipped, the raw
weights and optimizer kept for ``resume``. Loss: BCE on the masked voxels of random crops.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.voxels import OCCUPIED, VoxelGrid
from depth_completion_ros.models.occupancy_geometry import (
    KIND,
    GeometryNetConfig,
    assemble_features,
    build_geometry_net,
    hit_counts,
    occupancy_state,
    predict_logits,
    rig_features,
)

RADIATE_LIKE_GRID = {"origin": [0.0, -12.8, -2.0], "resolution": 0.2, "shape": [128, 128, 32]}
REAL_VALIDATION_PAIRS = 5  # the last trainable RADIATE pairs, validation of a real fine-tuning


def zed_rig_config(fx: float = 340.0, baseline: float = 0.12) -> dict:
    """A ZED-like rig (672x376, ``fx`` px, ``baseline`` m) in the layout of config/rigs/kitti.yaml:
    the LiDAR 1.9 m above the ground (RADIATE's ``base_link`` ground is at z ~ -1.9) and the
    RADIATE grid (128x128x32 @ 0.2 m, the near quarter of the SemanticKITTI grid)."""
    from depth_completion_ros.sim.rig import rig_config_path

    config = yaml.safe_load(rig_config_path("kitti").read_text())
    config["name"] = "zed_like"
    config["camera"].update(width=672, height=376, fx=fx, fy=fx, cx=336.0, cy=188.0)
    config["camera"]["T_base_camera"] = {"xyz": [0.3, 0.0, 1.7],
                                         "rpy": [-1.5707963267948966, 0.0, -1.5707963267948966]}
    config["stereo"]["baseline"] = baseline
    config["lidar"]["T_base_lidar"] = {"xyz": [0.0, 0.0, 1.9], "rpy": [0.0, 0.0, 0.0]}
    config["occupancy"] = dict(RADIATE_LIKE_GRID)
    return config


def _camera_with(camera: CameraModel, P: np.ndarray) -> CameraModel:
    return CameraModel(width=camera.width, height=camera.height, K=camera.K, P=P)


def degrade_stereo(left: np.ndarray, right: np.ndarray, right_camera: CameraModel, rng: np.random.Generator,
                   depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, CameraModel]:
    """Camera realism on a rendered rectified pair.

    Exposure gain and gamma (a small left/right difference), vignetting, contrast loss (fog,
    from ``depth`` when given: ``t = exp(-beta d)``), Gaussian blur, Gaussian + shot noise,
    JPEG, a vertical shift of the right image up to 0.5 px (rectification error); and the
    right camera model the matcher is given, with the baseline scaled by up to 2 % and the
    principal point moved by up to 0.3 px (calibration jitter).

    Returns:
        ``(left, right, right_camera)``: uint8 images and the jittered model.
    """
    height, width = left.shape[:2]
    gain = rng.uniform(0.55, 1.45)
    gamma = rng.uniform(0.7, 1.5)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    vignette = 1.0 - rng.uniform(0.0, 0.45) * r2
    fog = None
    if rng.random() < 0.4:
        if depth is not None and rng.random() < 0.7:
            beta = rng.uniform(0.01, 0.06)
            d = np.where(depth > 0, depth, 200.0).astype(np.float32)
            fog = np.exp(-beta * d)[..., None]
        else:
            fog = np.float32(1.0 - rng.uniform(0.1, 0.5))
    airlight = rng.uniform(0.6, 0.95)
    blur = rng.uniform(0.3, 1.3) if rng.random() < 0.5 else 0.0
    noise = rng.uniform(0.5, 6.0)
    jpeg = int(rng.integers(35, 95)) if rng.random() < 0.7 else 0
    out = []
    for k, image in enumerate((left, right)):
        x = image.astype(np.float32) / 255.0
        if fog is not None:
            x = x * fog + airlight * (1.0 - fog)
        x = np.clip(x * gain * (1.0 + rng.uniform(-0.05, 0.05) * k), 0.0, 1.0) ** gamma
        x = x * vignette[..., None]
        x = x * 255.0
        if blur:
            x = cv2.GaussianBlur(x, (0, 0), blur)
        x = x + rng.normal(0.0, noise, x.shape).astype(np.float32) + \
            rng.normal(0.0, 1.0, x.shape).astype(np.float32) * np.sqrt(np.maximum(x, 0.0) / 40.0)
        if k == 1:
            shift = rng.uniform(-0.5, 0.5)
            x = cv2.warpAffine(x, np.float32([[1, 0, 0], [0, 1, shift]]), (width, height),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        if jpeg:
            ok, data = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
            x = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else x
        out.append(x)
    P = right_camera.P.copy()
    P[0, 3] *= 1.0 + rng.uniform(-0.02, 0.02)
    P[0, 2] += rng.uniform(-0.3, 0.3)
    return out[0], out[1], _camera_with(right_camera, P)


def stereo_sample(stereo, grid: VoxelGrid, sgbm) -> dict[str, np.ndarray]:
    """The inputs part of a cached sample: ``sgbm``'s state and hit counts on ``grid`` of a
    :class:`StereoFrame`, and the rig (camera, pose, grid, ``f B``) the features need."""
    from depth_completion_ros.pipeline.occupancy_geometry import sgbm_geometry

    baseline, hits, focal_baseline = sgbm_geometry(stereo, grid, sgbm)
    camera = stereo.left_camera
    return {
        "state": baseline.state.astype(np.uint8),
        "hits": np.minimum(hits, 65535).astype(np.uint16),
        "K": camera.K, "P": camera.P, "size": np.array([camera.width, camera.height]),
        "T_grid_camera": np.asarray(stereo.T_grid_camera, np.float64),
        "grid_origin": np.asarray(grid.origin, np.float64), "grid_resolution": np.float64(grid.resolution),
        "grid_shape": np.asarray(grid.shape, np.int64),
        "focal_baseline": np.float64(focal_baseline),
    }


def frame_sample(frame, rng: np.random.Generator, sgbm=None, realism: bool = True) -> dict[str, np.ndarray]:
    """One cached training sample of a simulated frame (stereo + occupancy rendered)."""
    from depth_completion_ros.eval.occupancy import stereo_frame
    from depth_completion_ros.pipeline.occupancy_methods import SgbmOccupancy, StereoFrame

    sgbm = sgbm or SgbmOccupancy(device="cpu")
    base = stereo_frame(frame)
    left, right, right_camera = base.left, base.right, base.right_camera
    if realism:
        left, right, right_camera = degrade_stereo(left, right, right_camera, rng, frame.depth)
    stereo = StereoFrame(left, right, base.left_camera, right_camera, base.T_grid_camera)
    grid = frame.occupancy.grid.geometry()
    surface = hit_counts(frame.depth, stereo.left_camera, stereo.T_grid_camera, grid) > 0
    truth = frame.occupancy.labels > 0
    in_view = rig_features(stereo.left_camera, stereo.T_grid_camera, grid)[0] > 0
    return {**stereo_sample(stereo, grid, sgbm), "target": truth | surface, "truth": truth,
            "mask": ((~frame.occupancy.invalid) | surface) & in_view, "invalid": frame.occupancy.invalid}


def build_geometry_cache(out: str | Path, frames: int, seed: int, zed_fraction: float = 0.5) -> Iterator[Path]:
    """Simulate ``frames`` samples into ``out/NNNNNN.npz`` (existing files are kept: resumable).

    Sample ``i`` draws its rig (KITTI, or ZED-like with fx in [320, 370] px and baseline in
    [0.11, 0.13] m, with probability ``zed_fraction``), world and camera degradation from
    ``SeedSequence([seed, i])`` alone.
    """
    from depth_completion_ros.sim.dataset import SimDataset
    from depth_completion_ros.sim.rig import load_rig

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kitti = load_rig("kitti")
    for i in range(frames):
        path = out / f"{i:06d}.npz"
        if path.is_file():
            yield path
            continue
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        if rng.random() < zed_fraction:
            rig = load_rig(zed_rig_config(float(rng.uniform(320, 370)), float(rng.uniform(0.11, 0.13))))
        else:
            rig = kitti
        frame = SimDataset(1, "street", rig, int(rng.integers(2**31)), outputs=("stereo", "occupancy")).frame(0)
        sample = frame_sample(frame, rng)
        temporary = path.with_suffix(".tmp.npz")
        np.savez_compressed(temporary, **sample)
        temporary.replace(path)
        yield path


def radiate_sample(seq, index: int, sgbm=None) -> dict[str, np.ndarray]:
    """One cached training sample of a real RADIATE stereo pair (the cache format of
    :func:`frame_sample`): the project's ``sgbm`` on the rectified pair, and as target the
    accumulated-LiDAR occupancy of :func:`~depth_completion_ros.eval.radiate.occupancy_target`,
    whose loss mask is its scored voxels (observed by a LiDAR ray, in the camera's view)."""
    from depth_completion_ros.datasets.radiate import ZED_GRID
    from depth_completion_ros.eval.radiate import occupancy_target, stereo_frame
    from depth_completion_ros.pipeline.occupancy_methods import SgbmOccupancy

    grid = ZED_GRID.geometry()
    target = occupancy_target(seq, index, grid)
    occupied = target.labels > 0
    return {**stereo_sample(stereo_frame(seq, index), grid, sgbm or SgbmOccupancy(device="cpu")),
            "target": occupied, "truth": occupied, "mask": ~target.invalid, "invalid": target.invalid}


def build_radiate_cache(out: str | Path, radiate: str | Path) -> tuple[list[Path], list[Path]]:
    """Cache every trainable pair of the RADIATE sequence in ``radiate`` (never a held-out
    one: :attr:`RadiateSequence.trainable`) as ``out/pair_NNN.npz`` (existing files kept).

    Returns:
        ``(training, validation)`` files: the last :data:`REAL_VALIDATION_PAIRS` trainable
        pairs validate (they choose the epoch and the threshold), the others train.
    """
    from depth_completion_ros.datasets.radiate import RadiateSequence

    seq = RadiateSequence(Path(radiate))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for index in seq.trainable:
        path = out / f"pair_{index:03d}.npz"
        if not path.is_file():
            temporary = path.with_suffix(".tmp.npz")
            np.savez_compressed(temporary, **radiate_sample(seq, index))
            temporary.replace(path)
        files.append(path)
    return files[:-REAL_VALIDATION_PAIRS], files[-REAL_VALIDATION_PAIRS:]


def sample_grid(sample: dict) -> VoxelGrid:
    return VoxelGrid(origin=tuple(sample["grid_origin"]), resolution=float(sample["grid_resolution"]),
                     shape=tuple(int(s) for s in sample["grid_shape"]))


def sample_camera(sample: dict) -> CameraModel:
    width, height = (int(v) for v in sample["size"])
    return CameraModel(width=width, height=height, K=sample["K"], P=sample["P"])


def sample_features(sample: dict, window: tuple[slice, slice, slice] | None = None) -> np.ndarray:
    """(C, X, Y, Z) features of a cached sample, on the whole grid or a ``window`` of it."""
    grid = sample_grid(sample)
    state, hits = sample["state"], sample["hits"]
    if window is not None:
        start = np.array([w.start for w in window])
        shape = tuple(w.stop - w.start for w in window)
        grid = VoxelGrid(origin=tuple(np.asarray(grid.origin) + start * grid.resolution),
                         resolution=grid.resolution, shape=shape)
        state, hits = state[window], hits[window]
    return assemble_features(state, hits, sample_camera(sample), sample["T_grid_camera"], grid,
                             float(sample["focal_baseline"]))


class CropDataset(torch.utils.data.Dataset):
    """Random crops (``crop`` voxels, multiples of 8) of cached samples: features, target, mask."""

    def __init__(self, files: list[Path], crop: tuple[int, int, int], seed: int = 0) -> None:
        self.files, self.crop, self.seed, self.epoch = list(files), tuple(crop), seed, 0

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        with np.load(self.files[index]) as data:
            sample = dict(data)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        shape = sample["state"].shape
        window = []
        for n, c in zip(shape, self.crop):
            c = min(c, n)
            start = int(rng.integers(0, (n - c) // 8 + 1)) * 8
            window.append(slice(start, start + c))
        window = tuple(window)
        features = sample_features(sample, window)
        if rng.random() < 0.5:  # left-right mirror: y flips, the geometry stays valid
            features = features[:, :, ::-1].copy()
            target, mask = sample["target"][window][:, ::-1], sample["mask"][window][:, ::-1]
        else:
            target, mask = sample["target"][window], sample["mask"][window]
        return {"features": torch.from_numpy(np.ascontiguousarray(features)),
                "target": torch.from_numpy(np.ascontiguousarray(target)).float()[None],
                "mask": torch.from_numpy(np.ascontiguousarray(mask))[None]}


@dataclass(frozen=True)
class GeometryTrainConfig:
    """A training run (YAML keys of the same names, ``config/train/occupancy_geometry_cpu.yaml``).

    ``radiate`` (a RADIATE sequence folder, ``auto`` to find it as the benchmark does, or
    empty: simulator only), ``radiate_cache`` and ``real_fraction``: the share of each
    epoch's samples drawn from the real trainable pairs (:func:`build_radiate_cache`); the
    real validation pairs are scored after every epoch beside the simulator's.
    """

    out: str
    cache: str
    val_cache: str
    frames: int = 400
    val_frames: int = 12
    seed: int = 0
    val_seed: int = 999
    threads: int = 1
    epochs: int = 4
    samples_per_epoch: int = 0
    batch_size: int = 2
    crop: tuple[int, int, int] = (128, 128, 32)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.98
    pos_weight: float = 1.0
    max_minutes: float = 0.0
    model: dict = field(default_factory=dict)
    radiate: str = ""
    radiate_cache: str = ""
    real_fraction: float = 0.0

    @classmethod
    def load(cls, path: str | Path, **overrides) -> GeometryTrainConfig:
        values = yaml.safe_load(Path(path).read_text()) or {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "crop" in values:
            values["crop"] = tuple(values["crop"])
        try:
            return cls(**values)
        except TypeError as error:
            raise BadInputError(str(path), f"training config: {error}") from error

    def to_dict(self) -> dict:
        return {**asdict(self), "crop": list(self.crop)}


def masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, pos_weight: float = 1.0
               ) -> torch.Tensor:
    """Mean BCE over the ``mask`` voxels."""
    loss = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none",
                                              pos_weight=torch.tensor(pos_weight, device=logits.device))
    return (loss * mask).sum() / mask.sum().clamp_min(1)


def score_samples(model: nn.Module | None, samples: list[dict], device: str, threshold: float = 0.0,
                  key: str = "truth") -> dict[str, float]:
    """Completion IoU / precision / recall over ``samples`` of the model (None: ``sgbm``)
    against ``key`` (``truth``: the simulator's voxel labels, ``target``: with the visible
    surface), counted on the simulator's observed voxels (SemanticKITTI counting)."""
    tp = fp = fn = 0
    for sample in samples:
        state = sample["state"]
        if model is None:
            occupied = state == OCCUPIED
        else:
            features = sample_features(sample)
            logits = predict_logits(model, features, device)
            occupied = occupancy_state(logits, state, threshold, features[4] > 0) == OCCUPIED
        valid = ~sample["invalid"] if key == "truth" else (~sample["invalid"]) | sample["target"]
        truth = sample[key]
        tp += int(np.sum(occupied & truth & valid))
        fp += int(np.sum(occupied & ~truth & valid))
        fn += int(np.sum(~occupied & truth & valid))
    return {"iou": tp / max(1, tp + fp + fn), "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn)}


def load_samples(files: list[Path]) -> list[dict]:
    out = []
    for path in files:
        with np.load(path) as data:
            out.append(dict(data))
    return out


def real_training_files(config: GeometryTrainConfig) -> tuple[list[Path], list[Path]]:
    """``(training, validation)`` real RADIATE samples of ``config`` (none without ``radiate``)."""
    if not config.radiate or config.real_fraction <= 0:
        return [], []
    from depth_completion_ros.datasets.radiate import find_radiate

    folder = find_radiate(root=None if config.radiate == "auto" else config.radiate)
    if folder is None:
        raise BadInputError("radiate", f"no RADIATE sequence at '{config.radiate}'; see datasets/radiate.py for the "
                            "snapshot to fetch, or set radiate: '' to train on the simulator only")
    cache = config.radiate_cache or str(Path(config.cache).with_name("radiate"))
    return build_radiate_cache(cache, folder)


def epoch_order(simulated: int, real: int, samples: int, real_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Dataset indices of one epoch: ``samples - real_samples`` of the ``simulated`` samples
    (indices first) and ``real_samples`` of the ``real`` ones (after them), shuffled."""
    sim_part = rng.choice(simulated, size=samples - real_samples, replace=samples - real_samples > simulated)
    real_part = simulated + rng.choice(real, size=real_samples, replace=real_samples > real) if real_samples else []
    return rng.permutation(np.concatenate([sim_part, real_part]).astype(np.int64))


def train_geometry(config: GeometryTrainConfig, device: str = "cpu", resume: bool = False,
                   log: Callable[[str], None] = print) -> Path:
    """Train (building the caches first when needed); returns the checkpoint path ``<out>/occupancy_geometry.pt``."""
    from depth_completion_ros.models.checkpoint import interrupted_checkpoint, read_checkpoint, save_checkpoint
    from depth_completion_ros.training.completion import epoch_batches, optimizer_step, setup_distributed

    env = setup_distributed(device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    files = list(build_geometry_cache(config.cache, config.frames, config.seed))
    val_files = list(build_geometry_cache(config.val_cache, config.val_frames, config.val_seed)) \
        if env.is_main and config.val_frames else []
    val_samples = load_samples(val_files)
    real_files, real_val_files = real_training_files(config)
    real_val_samples = load_samples(real_val_files) if env.is_main else []
    out = Path(config.out)
    path = out / "occupancy_geometry.pt"
    model = build_geometry_net(GeometryNetConfig.from_dict(config.model)).to(env.device)
    average = copy.deepcopy(model).eval() if config.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    first_epoch, metrics = 0, {}
    if resume and path.is_file():
        payload = read_checkpoint(path)
        model.load_state_dict(payload.get("raw_state_dict", payload["state_dict"]))
        if average is not None:
            average.load_state_dict(payload["state_dict"])
        first_epoch, metrics = int(payload["progress"].get("epoch", 0)), dict(payload["metrics"])
        if "optimizer" in payload:
            optimizer.load_state_dict(payload["optimizer"])
        log(f"resumed after epoch {first_epoch}")
    dataset = CropDataset(files + real_files, config.crop, config.seed)
    samples = config.samples_per_epoch or len(dataset)
    real_samples = round(samples * config.real_fraction) if real_files else 0
    use_cuda = env.device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda)
    trained = nn.parallel.DistributedDataParallel(model) if env.world > 1 else model
    steps_per_epoch = math.ceil(samples / (config.batch_size * env.world))
    total = steps_per_epoch * config.epochs
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        sgbm_scores = {**score_samples(None, val_samples, env.device),
                       **{f"real_{k}": v for k, v in score_samples(None, real_val_samples, env.device).items()
                          if real_val_samples}}
        log(f"{len(files)} simulated + {len(real_files)} real training / {len(val_samples)} + {len(real_val_samples)} "
            f"validation samples, device {env.device}; sgbm on validation: "
            f"{json.dumps({k: round(v, 4) for k, v in sgbm_scores.items()})}")
    started_run = time.monotonic()
    for epoch in range(first_epoch, config.epochs):
        dataset.set_epoch(epoch)
        order = epoch_order(len(files), len(real_files), samples, real_samples, np.random.default_rng([config.seed, epoch]))
        subset = torch.utils.data.Subset(dataset, order.tolist())
        sampler = torch.utils.data.distributed.DistributedSampler(subset, env.world, env.rank, shuffle=False) \
            if env.world > 1 else None
        loader = torch.utils.data.DataLoader(subset, batch_size=config.batch_size, sampler=sampler, num_workers=0,
                                             drop_last=True)
        trained.train()
        losses, started = [], time.monotonic()
        try:
            for step, batch in epoch_batches(loader, optimizer, config.lr, epoch * steps_per_epoch, total, env.device):
                with torch.autocast("cuda", dtype=torch.float16, enabled=use_cuda):
                    logits = trained(batch["features"])
                loss = masked_bce(logits, batch["target"], batch["mask"], config.pos_weight)
                optimizer_step(loss, optimizer, scaler, trained, model, average, config.ema_decay)
                losses.append(float(loss.detach()))
                if env.is_main and step % 25 == 0:
                    log(f"epoch {epoch + 1} step {step}/{steps_per_epoch} loss {np.mean(losses[-25:]):.4f} "
                        f"({time.monotonic() - started:.0f} s)")
        except KeyboardInterrupt:
            if not env.is_main:
                raise
            raise interrupted_checkpoint(path, KIND, average if average is not None else model, config.to_dict(),
                                         metrics, epoch, len(losses), steps_per_epoch) from None
        if env.is_main:
            shipped = average if average is not None else model
            metrics = {"train_loss": float(np.mean(losses)) if losses else math.nan,
                       "epoch_seconds": time.monotonic() - started,
                       **{f"val_{k}": v for k, v in score_samples(shipped, val_samples, env.device).items()},
                       **{f"val_real_{k}": v for k, v in score_samples(shipped, real_val_samples, env.device).items()
                          if real_val_samples},
                       **{f"sgbm_{k}": v for k, v in sgbm_scores.items()}}
            raw = None if average is None else {k: v.detach().cpu() for k, v in model.state_dict().items()}
            save_checkpoint(path, KIND, shipped, config.to_dict(), metrics, {"stage": KIND, "epoch": epoch + 1},
                            optimizer.state_dict(), raw)
            log(f"epoch {epoch + 1}/{config.epochs} " + json.dumps({k: round(v, 4) for k, v in metrics.items()}))
        if env.world > 1:
            torch.distributed.barrier()
        if config.max_minutes and (time.monotonic() - started_run) / 60 > config.max_minutes:
            log(f"stopping after epoch {epoch + 1}: max_minutes {config.max_minutes} reached")
            break
    if env.world > 1:
        torch.distributed.destroy_process_group()
    return path
