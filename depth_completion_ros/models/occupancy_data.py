"""Training data for the stereo occupancy network: a cache of simulator frames.

Simulating a frame with occupancy ground truth costs about 0.7 s, far more than a
training step on the reduced grid, so :func:`build_cache` renders each sample once into
an ``.npz`` file and :class:`OccupancyCache` serves them. Sample ``i`` of a cache is
``SimDataset(length, scene, rig, seed).frame(i)`` (seeded per index), reduced to:

- ``left``, ``right``: (H, W, 3) uint8 rectified images resized to ``image_size``;
- ``depth``: (H, W) float32 metres, the simulator's depth (nearest-resized, 0 = none),
  the distillation target of the depth bins;
- ``labels``: (X, Y, Z) uint8 SemanticKITTI learning ids (0 empty, 1-19) on the grid
  coarsened by ``grid_factor``; ``invalid``: (X, Y, Z) bool, unobserved voxels;
- ``P_left``, ``P_right``: (3, 4) projections of the resized images (``P_right``
  projects left-camera points); ``T_camera_lidar``: (4, 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from depth_completion_ros.geometry.voxels import VoxelGrid, downsample_labels
from depth_completion_ros.sim.dataset import SimDataset
from depth_completion_ros.sim.labels import SEMANTIC_KITTI_LEARNING_MAP
from depth_completion_ros.sim.simulator import SimulatedFrame

CACHE_KEYS = ("left", "right", "depth", "labels", "invalid", "P_left", "P_right", "T_camera_lidar")


def learning_ids(raw_labels: np.ndarray) -> np.ndarray:
    """(…) uint8 SemanticKITTI learning ids (0-19) of raw label ids; unknown ids map to 0."""
    lookup = np.zeros(max(SEMANTIC_KITTI_LEARNING_MAP) + 1, dtype=np.uint8)
    for raw, learned in SEMANTIC_KITTI_LEARNING_MAP.items():
        lookup[raw] = learned
    raw = np.asarray(raw_labels).astype(np.int64)
    return np.where(raw < lookup.size, lookup[np.clip(raw, 0, lookup.size - 1)], 0).astype(np.uint8)


@dataclass(frozen=True)
class CacheSpec:
    """What a cache holds.

    Attributes:
        length: number of samples; ``seed``: SimDataset seed; ``scene``, ``rig``: as SimDataset.
        image_size: (width, height) of the stored images.
        grid_factor: coarsening of the rig's occupancy grid (2: 256x256x32 @0.2 m -> 128x128x16 @0.4 m).
    """

    length: int
    seed: int
    image_size: tuple[int, int] = (416, 128)
    grid_factor: int = 2
    scene: str = "street"
    rig: str = "kitti"


def reduce_frame(frame: SimulatedFrame, image_size: tuple[int, int], grid_factor: int) -> dict[str, np.ndarray]:
    """The cache entry of one simulated frame (see the module docstring)."""
    width, height = image_size
    labels, invalid = downsample_labels(learning_ids(frame.occupancy.labels), frame.occupancy.invalid, grid_factor)
    return {
        "left": cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_AREA),
        "right": cv2.resize(frame.right_rgb, (width, height), interpolation=cv2.INTER_AREA),
        "depth": cv2.resize(frame.depth, (width, height), interpolation=cv2.INTER_NEAREST),
        "labels": labels,
        "invalid": invalid,
        "P_left": frame.camera.resized(width, height).P.astype(np.float32),
        "P_right": frame.right_camera.resized(width, height).P.astype(np.float32),
        "T_camera_lidar": frame.T_camera_lidar.astype(np.float32),
    }


def build_cache(spec: CacheSpec, folder: str | Path, progress: bool = True) -> Path:
    """Render the samples of ``spec`` into ``folder/{index:06d}.npz`` (existing files are kept).

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dataset = SimDataset(spec.length, spec.scene, spec.rig, spec.seed, outputs=("stereo", "occupancy"))
    for index in tqdm(range(spec.length), desc=f"cache {folder.name}", disable=not progress):
        path = folder / f"{index:06d}.npz"
        if path.exists():
            continue
        entry = reduce_frame(dataset.frame(index), spec.image_size, spec.grid_factor)
        partial = path.with_suffix(".tmp.npz")
        np.savez_compressed(partial, **entry)
        partial.rename(path)  # a killed run leaves no truncated sample behind
    return folder


def cache_grid(rig_grid: VoxelGrid, grid_factor: int) -> VoxelGrid:
    """The grid of a cache's labels."""
    return rig_grid.downsampled(grid_factor)


class OccupancyCache(Dataset):
    """Samples of a cache folder as tensors.

    Each sample: ``left``, ``right`` (3, H, W) float32 in [0, 1]; ``depth`` (H, W) float32;
    ``labels`` (X, Y, Z) int64; ``invalid`` (X, Y, Z) bool; ``P_left``, ``P_right`` (3, 4);
    ``T_camera_lidar`` (4, 4).
    """

    def __init__(self, folder: str | Path, limit: int | None = None) -> None:
        self.files = sorted(p for p in Path(folder).glob("*.npz") if not p.name.endswith(".tmp.npz"))
        if limit is not None:
            self.files = self.files[:limit]
        if not self.files:
            raise FileNotFoundError(f"no cached samples in {folder}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        with np.load(self.files[index]) as data:
            entry = {key: data[key] for key in CACHE_KEYS}
        sample = {key: torch.from_numpy(np.ascontiguousarray(entry[key].transpose(2, 0, 1))).float().div_(255.0)
                  for key in ("left", "right")}
        sample["depth"] = torch.from_numpy(entry["depth"].astype(np.float32))
        sample["labels"] = torch.from_numpy(entry["labels"].astype(np.int64))
        sample["invalid"] = torch.from_numpy(entry["invalid"])
        for key in ("P_left", "P_right", "T_camera_lidar"):
            sample[key] = torch.from_numpy(entry[key].astype(np.float32))
        return sample
