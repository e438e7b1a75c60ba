"""A cached training frame (``.npz``): what ``dcr train cache`` writes and the trainers read.

Each file holds one frame:

* ``rgb`` (H, W, 3) uint8; ``depth`` (H, W) float16 dense ground truth in metres
  (0 = none, e.g. sky);
* ``K`` (3, 3) float64 rectified intrinsics of that image (no distortion);
* ``points`` (N, 3) float32 LiDAR returns in the camera optical frame (only those in
  front of the camera) and ``ring`` (N,) int16 their ring index (0 = lowest beam);
* ``source``: ``sim-street``, ``sim-indoor``, ``rgbd`` or ``kitti-raw``;
* radar frames only (``dcr train cache --radar``, the nuScenes-like rig): ``radar`` (M, 6)
  float32 :data:`~depth_completion_ros.models.radar_input.RADAR_FEATURES` (x, y, z in the camera optical frame) and
  ``semantic`` (H, W) uint8 :data:`~depth_completion_ros.models.completion_net.MASK_CLASSES` index of every pixel.

Simulator frames, RGB-D frames and real frames (:func:`~depth_completion_ros.datasets.kitti_raw.cached_frame`)
share the format; :mod:`depth_completion_ros.training.cache` builds a folder of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_completion_ros.geometry.camera import CameraModel


@dataclass(frozen=True)
class CachedFrame:
    """One training frame (see the module docstring for shapes and units)."""

    rgb: np.ndarray
    depth: np.ndarray
    camera: CameraModel
    points: np.ndarray
    ring: np.ndarray
    source: str
    radar: np.ndarray | None = None
    semantic: np.ndarray | None = None

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed), so an interrupted build leaves no partial frame."""
        temporary = path.with_name(path.name + ".tmp.npz")
        optional = {name: value for name, value in (("radar", self.radar), ("semantic", self.semantic))
                    if value is not None}
        np.savez_compressed(temporary, rgb=self.rgb, depth=self.depth.astype(np.float16), K=self.camera.K,
                            points=self.points.astype(np.float32), ring=self.ring.astype(np.int16),
                            source=np.array(self.source), **optional)
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> CachedFrame:
        with np.load(path) as data:
            rgb = data["rgb"]
            camera = CameraModel(width=rgb.shape[1], height=rgb.shape[0], K=data["K"])
            return cls(rgb, data["depth"].astype(np.float32), camera, data["points"], data["ring"].astype(np.int64),
                       str(data["source"]), data["radar"] if "radar" in data else None,
                       data["semantic"] if "semantic" in data else None)


def cache_files(cache_dir: str | Path) -> list[Path]:
    """The cached frames of a directory, sorted."""
    files = sorted(p for p in Path(cache_dir).glob("*.npz") if not p.name.endswith(".tmp.npz"))
    if not files:
        raise FileNotFoundError(f"no cached frames (*.npz) in {cache_dir}; build them with `dcr train cache`")
    return files
