"""KITTI odometry layout for stereo occupancy: ``image_2/``, ``image_3/``, ``velodyne/``, ``calib.txt``.

``calib.txt`` holds P0-P3 (rectified projections, all taking camera-0 points) and Tr
(rectified camera 0 <- Velodyne). Frame ids are the file stems of ``image_2`` (e.g.
``000000``); SemanticKITTI's voxel files use the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class OdometryFrameFiles:
    """Files of one frame: ``frame_id``, ``left``, ``right`` and optional ``velodyne``."""

    frame_id: str
    left: Path
    right: Path
    velodyne: Path | None = None


def list_frames(left_dir: str | Path, right_dir: str | Path,
                velodyne_dir: str | Path | None = None) -> tuple[list[OdometryFrameFiles], list[BadInputError]]:
    """Frames with a left image, in name order, and the problems of the incomplete ones.

    A frame missing its right image (or its scan, when ``velodyne_dir`` is given) is
    reported as a :class:`BadInputError` and left out.
    """
    left_dir, right_dir = Path(left_dir), Path(right_dir)
    for name, folder in (("--left", left_dir), ("--right", right_dir)) + (
            (("--velodyne", Path(velodyne_dir)),) if velodyne_dir is not None else ()):
        if not folder.is_dir():
            raise BadInputError(name, f"{folder} is not a folder")
    rights = {p.stem: p for p in right_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    frames, problems = [], []
    for left in sorted(p for p in left_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        velodyne = Path(velodyne_dir) / f"{left.stem}.bin" if velodyne_dir is not None else None
        if left.stem not in rights:
            problems.append(BadInputError(str(left), f"has no right image {left.stem}.* in {right_dir}"))
        elif velodyne is not None and not velodyne.is_file():
            problems.append(BadInputError(str(left), f"has no scan {velodyne}"))
        else:
            frames.append(OdometryFrameFiles(left.stem, left, rights[left.stem], velodyne))
    return frames, problems


def write_calib(path: str | Path, P_left: np.ndarray, P_right: np.ndarray, T_cam0_velo: np.ndarray) -> None:
    """Write an odometry ``calib.txt``: P0 = P2 = ``P_left``, P1 = P3 = ``P_right``, Tr (3x4)."""
    def line(key: str, values: np.ndarray) -> str:
        return f"{key}: " + " ".join(f"{v:.12e}" for v in np.asarray(values, dtype=np.float64).reshape(-1))

    lines = [line(f"P{i}", P_left if i % 2 == 0 else P_right) for i in range(4)]
    lines.append(line("Tr", np.asarray(T_cam0_velo)[:3, :4]))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
