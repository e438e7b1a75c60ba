"""A torch ``Dataset`` that generates simulator frames on the fly.

Sample ``i`` is generated from ``SeedSequence([seed, i])`` alone: its world, its time
in the sequence and its sensor noise. So worker pools, shuffling and repeated epochs
all see identical samples, and two datasets with different seeds see different worlds.

Each sample is a dict of tensors (see :meth:`SimDataset.__getitem__`); variable-length
point sets (``lidar_points``, ``radar_points``) need :func:`collate_frames` in a
``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.geometry.transforms import compose, invert_transform
from depth_completion_ros.sim.rig import Rig, load_rig
from depth_completion_ros.sim.simulator import OPTIONAL_OUTPUTS, SimulatedFrame, Simulator
from depth_completion_ros.sim.world import SCENE_KINDS, generate_world

VARIABLE_LENGTH_KEYS = ("lidar_points", "radar_points")


class SimDataset(Dataset):
    """Simulated frames, seeded per index.

    Args:
        length: number of samples.
        scene: ``street``, ``indoor`` or ``mixed`` (each sample picks one at random).
        rig: rig name, YAML path, dict or :class:`~.rig.Rig`.
        seed: base seed.
        outputs: optional sensors to render (``stereo``, ``lidar``, ``radar``,
            ``occupancy``); fewer is faster.
        duration: seconds of each generated sequence; the sample time is drawn in it.
    """

    def __init__(self, length: int, scene: str = "street", rig: str | Path | Mapping | Rig = "kitti", seed: int = 0,
                 outputs: Collection[str] = ("stereo", "lidar"), duration: float = 10.0) -> None:
        if scene not in (*SCENE_KINDS, "mixed"):
            raise ValueError(f"unknown scene '{scene}'; choose street, indoor or mixed")
        unknown = set(outputs) - OPTIONAL_OUTPUTS
        if unknown:
            raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {sorted(OPTIONAL_OUTPUTS)}")
        self.length = int(length)
        self.scene = scene
        self.rig = rig if isinstance(rig, Rig) else load_rig(rig)
        self.seed = int(seed)
        self.outputs = frozenset(outputs)
        self.duration = float(duration)

    def __len__(self) -> int:
        return self.length

    def frame(self, index: int) -> SimulatedFrame:
        """The :class:`SimulatedFrame` of sample ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} out of range for a dataset of {self.length}")
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        scene = self.scene if self.scene != "mixed" else SCENE_KINDS[int(rng.integers(len(SCENE_KINDS)))]
        world_seed = int(rng.integers(2**31))
        simulator = Simulator(generate_world(scene, world_seed, self.duration), self.rig, world_seed)
        time = round(float(rng.uniform(0.0, self.duration)), 6)
        return simulator.frame(time, self.outputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """One sample.

        Returns:
            ``rgb`` (3, H, W) float32 in [0, 1]; ``depth`` (1, H, W) float32 metres (0 =
            none); ``semantic`` (H, W) int64; ``K`` (3, 3) float32; and, when rendered,
            ``right_rgb`` (3, H, W), ``disparity`` (1, H, W) px, ``lidar_depth`` (1, H, W)
            metres (scan projected into the left camera, 0 = none), ``lidar_points``
            (N, 5), ``radar_points`` (M, 8) radar frame, ``occupancy`` (X, Y, Z) int64
            labels, ``occupancy_invalid`` (X, Y, Z) bool, ``T_camera_lidar`` and
            ``T_camera_radar`` (4, 4) float32.
        """
        frame = self.frame(index)
        sample = {
            "rgb": _image(frame.rgb),
            "depth": torch.from_numpy(frame.depth)[None],
            "semantic": torch.from_numpy(frame.semantic.astype(np.int64)),
            "K": torch.from_numpy(frame.camera.projection_intrinsics.astype(np.float32)),
        }
        if frame.right_rgb is not None:
            sample["right_rgb"] = _image(frame.right_rgb)
            sample["disparity"] = torch.from_numpy(frame.disparity)[None]
        if frame.lidar is not None:
            sparse = points_to_sparse_depth(frame.lidar.points, frame.camera, frame.T_camera_lidar)
            sample["lidar_depth"] = torch.from_numpy(sparse)[None]
            sample["lidar_points"] = torch.from_numpy(frame.lidar.points)
            sample["T_camera_lidar"] = torch.from_numpy(frame.T_camera_lidar.astype(np.float32))
        if frame.radar is not None:
            sample["radar_points"] = torch.from_numpy(frame.radar.points)
            T_camera_radar = compose(invert_transform(frame.extrinsics["camera"]), frame.extrinsics["radar"])
            sample["T_camera_radar"] = torch.from_numpy(T_camera_radar.astype(np.float32))
        if frame.occupancy is not None:
            sample["occupancy"] = torch.from_numpy(frame.occupancy.labels.astype(np.int64))
            sample["occupancy_invalid"] = torch.from_numpy(frame.occupancy.invalid)
        return sample


def _image(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(255.0)


def collate_frames(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor | list[torch.Tensor]]:
    """``default_collate`` for fixed-size entries; point sets stay lists of tensors."""
    fixed = [{k: v for k, v in s.items() if k not in VARIABLE_LENGTH_KEYS} for s in samples]
    batch = default_collate(fixed)
    for key in VARIABLE_LENGTH_KEYS:
        if key in samples[0]:
            batch[key] = [s[key] for s in samples]
    return batch
