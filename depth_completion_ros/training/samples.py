"""Training samples from the frame cache: ring subsets, sparsity, disruption, prior.

One sample (:class:`CompletionSamples`) from one cached frame:

1. the disruption augmentation :func:`~.augment.random_rescale_and_crop` (camera updated);
2. the LiDAR input: every k-th ring from a random offset (so a 64-128 ring scan becomes a
   16-128 ring input), then a random fraction of its points dropped (random sparsity);
3. the supervision:
   * ``dense`` (stage 1): the simulator's / RGB-D frame's dense depth;
   * ``sparse`` (stage 2, the real-world regime): only the held-out rings after the
     occlusion filter (:func:`~depth_completion_ros.datasets.ring_protocol.split_input_and_ground_truth`,
     the very function of the real KITTI protocol); never the dense depth;
4. the prior of the input (the pipeline's classical fill, passed in; the network refines it);
5. flip, colour jitter, blur.

Radar samples (:func:`make_radar_sample`, supervision ``lidar``; frames cached with
``--radar``): the input is the radar sweep (:func:`~.radar_input.radar_network_inputs`,
dropped entirely for a ``radar_dropout`` fraction of samples so the network copes without
radar), the supervision the single-sweep LiDAR after the occlusion filter of
``../shared/DESIGN.md`` ((d - nearest) / d > 0.1 in a 7x7 window drops a point), as on
nuScenes, plus the semantic mask; the same disruption augmentations.

Randomness comes from ``(seed, epoch, index)`` alone, so runs are reproducible and
data-parallel ranks see disjoint, deterministic samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from depth_completion_ros.datasets.ring_protocol import split_input_and_ground_truth
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import OCCLUSION_WINDOW, points_to_sparse_depth
from depth_completion_ros.models.augment import (
    DisruptionConfig,
    disrupt_appearance,
    flip_horizontal,
    random_rescale_and_crop,
)
from depth_completion_ros.models.radar_input import flip_radar_points, radar_network_inputs
from depth_completion_ros.datasets.cached_frame import CachedFrame

SUPERVISION_KINDS = ("dense", "sparse", "lidar")
IDENTITY = np.eye(4)
# (H, W) sparse metres -> (H, W) dense prior metres. The caller passes the pipeline's
# classical fill (models/ sits below pipeline/ and does not import it).
PriorFill = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SparsityConfig:
    """How the LiDAR input is drawn from a cached scan.

    Attributes:
        min_input_rings: the ring step k is at most ``rings // min_input_rings``.
        max_drop: up to this fraction of the input points is dropped at random.
        radar_dropout: radar samples: fraction of samples whose radar sweep is dropped.
        point_split_probability: fraction of samples whose input is a random 30-70 % of all
            the points instead of whole rings (a dense input: every ring, gaps along it).
    """

    min_input_rings: int = 16
    max_drop: float = 0.5
    radar_dropout: float = 0.05
    point_split_probability: float = 0.0


def choose_input_rings(rng: np.random.Generator, ring: np.ndarray, min_input_rings: int, held_out: bool) -> np.ndarray:
    """(N,) bool: points of every k-th ring from a random offset.

    ``held_out`` forces k >= 2 so some rings remain for supervision.
    """
    rings = int(ring.max()) + 1 if ring.size else 1
    largest_step = max(rings // max(min_input_rings, 1), 2 if held_out else 1)
    step = int(rng.integers(2 if held_out else 1, largest_step + 1))
    return (ring % step) == int(rng.integers(step))


def make_sample(frame: CachedFrame, rng: np.random.Generator, crop_size: tuple[int, int], supervision: str,
                disruption: DisruptionConfig, sparsity: SparsityConfig, prior_fill: PriorFill) -> dict[str, np.ndarray]:
    """One training sample from one cached frame (see the module docstring).

    Returns:
        ``rgb`` (h, w, 3) uint8; ``sparse``, ``prior``, ``target`` (h, w) float32 metres
        (0 = none), with ``(w, h) = crop_size``.
    """
    if supervision not in SUPERVISION_KINDS:
        raise ValueError(f"supervision must be one of {SUPERVISION_KINDS}, got '{supervision}'")
    rgb, (dense,), camera = random_rescale_and_crop(rng, frame.rgb, [frame.depth], frame.camera, crop_size,
                                                    disruption.scale_range)
    if rng.random() < sparsity.point_split_probability:
        use = rng.random(frame.ring.size) < rng.uniform(0.3, 0.7)
    else:
        use = choose_input_rings(rng, frame.ring, sparsity.min_input_rings, held_out=supervision == "sparse")
        use &= rng.random(use.size) >= rng.uniform(0.0, sparsity.max_drop)
    if supervision == "sparse":
        sparse, target = split_input_and_ground_truth(frame.points, camera, IDENTITY, use)
    else:
        sparse, target = points_to_sparse_depth(frame.points[use], camera), dense
    prior = prior_fill(sparse)
    if rng.random() < disruption.flip_probability:
        rgb, (sparse, prior, target) = flip_horizontal(rgb, [sparse, prior, target])
    rgb = disrupt_appearance(rgb, rng, disruption)
    return {"rgb": rgb, "sparse": sparse, "prior": prior, "target": target.astype(np.float32)}


def lidar_target(frame: CachedFrame, camera: CameraModel) -> np.ndarray:
    """(h, w) float32 single-sweep LiDAR depth of ``camera``'s image after the occlusion filter."""
    return points_to_sparse_depth(frame.points, camera, occlusion_window=OCCLUSION_WINDOW)


def make_radar_sample(frame: CachedFrame, rng: np.random.Generator, crop_size: tuple[int, int],
                      disruption: DisruptionConfig, radar_dropout: float, max_points: int,
                      road: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """One radar training sample (see the module docstring); ``road``: the network's
    ``radar_road`` (the prior cut by the flat road, see :func:`~.radar_input.radar_network_inputs`).

    Returns:
        ``rgb`` (h, w, 3) uint8; ``sparse``, ``column``, ``prior``, ``target`` (h, w)
        float32 metres; ``semantic`` (h, w) int64; ``radar`` (N, 6) float32, ``radar_valid``
        (N,) bool; ``scale`` () float32 metres.
    """
    if frame.radar is None or frame.semantic is None:
        raise ValueError("radar training needs frames cached with `dcr train cache --radar`")
    rgb, (semantic,), camera = random_rescale_and_crop(rng, frame.rgb, [frame.semantic.astype(np.float32)],
                                                       frame.camera, crop_size, disruption.scale_range)
    target = lidar_target(frame, camera)
    radar = frame.radar[:0] if rng.random() < radar_dropout else frame.radar
    inputs = radar_network_inputs(radar, camera, max_points, road=road)
    maps = [inputs.sparse, inputs.column, inputs.prior, target, semantic]
    points = inputs.points
    if rng.random() < disruption.flip_probability:
        rgb, maps = flip_horizontal(rgb, maps)
        points = np.where(inputs.valid[:, None], flip_radar_points(points), points)
    sparse, column, prior, target, semantic = maps
    return {"rgb": disrupt_appearance(rgb, rng, disruption), "sparse": sparse, "column": column, "prior": prior,
            "target": target, "semantic": semantic.astype(np.int64), "radar": points, "radar_valid": inputs.valid,
            "scale": np.float32(inputs.scale)}


def to_tensors(sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Numpy sample -> tensors: rgb (3, h, w) float [0, 1], depth maps (1, h, w), the rest as they are."""
    tensors = {"rgb": torch.from_numpy(np.ascontiguousarray(sample["rgb"].transpose(2, 0, 1))).float().div_(255.0)}
    for key, value in sample.items():
        if key in ("sparse", "prior", "target", "column"):
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))[None]
        elif key != "rgb":
            tensors[key] = torch.as_tensor(np.ascontiguousarray(value))
    return tensors


class CacheDataset(Dataset):
    """Training samples over cached frames; call :meth:`set_epoch` each epoch for fresh draws."""

    def __init__(self, files: list[Path], crop_size: tuple[int, int], supervision: str, seed: int,
                 prior_fill: PriorFill, disruption: DisruptionConfig = DisruptionConfig(),
                 sparsity: SparsityConfig = SparsityConfig(), radar_points: int = 0,
                 radar_road: tuple[float, float] | None = None) -> None:
        self.files = list(files)
        self.radar_points, self.radar_road = int(radar_points), radar_road
        self.prior_fill = prior_fill
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.supervision = supervision
        self.seed = int(seed)
        self.disruption = disruption
        self.sparsity = sparsity
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        frame = CachedFrame.load(self.files[index])
        if self.supervision == "lidar":
            return to_tensors(make_radar_sample(frame, rng, self.crop_size, self.disruption,
                                                self.sparsity.radar_dropout, self.radar_points, self.radar_road))
        return to_tensors(make_sample(frame, rng, self.crop_size, self.supervision, self.disruption, self.sparsity,
                                      self.prior_fill))


def evaluation_input(frame: CachedFrame, ring_step: int = 4, crop_size: tuple[int, int] = (1216, 352)
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, CameraModel]:
    """A held-out evaluation frame: bottom-centre crop, every ``ring_step``-th ring as input.

    Returns:
        ``(rgb, sparse, dense ground truth, camera)`` of the crop.
    """
    cam = frame.camera.image_model()
    width, height = min(crop_size[0], cam.width), min(crop_size[1], cam.height)
    x, y = (cam.width - width) // 2, cam.height - height
    camera = cam.cropped(x, y, width, height)
    sparse = points_to_sparse_depth(frame.points[frame.ring % ring_step == 0], camera)
    rgb = np.ascontiguousarray(frame.rgb[y : y + height, x : x + width])
    return rgb, sparse, frame.depth[y : y + height, x : x + width], camera


def radar_evaluation_input(frame: CachedFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, CameraModel]:
    """A held-out radar frame: the whole image, the radar sweep and the LiDAR ground truth.

    Returns:
        ``(rgb (H, W, 3) uint8, radar (M, 6) float32, ground truth (H, W) float32, camera)``;
        the ground truth is the single-sweep LiDAR after the occlusion filter (as on nuScenes).
    """
    if frame.radar is None:
        raise ValueError("radar evaluation needs frames cached with `dcr train cache --radar`")
    return frame.rgb, frame.radar, lidar_target(frame, frame.camera), frame.camera.image_model()
