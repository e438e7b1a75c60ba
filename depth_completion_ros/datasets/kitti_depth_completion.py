"""The KITTI depth-completion folder layout (the contract of ``dcr complete``).

One frame is three files with the same stem::

    DIR/image/NAME.png          RGB, 8-bit
    DIR/velodyne_raw/NAME.png   sparse depth, uint16, depth x 256, 0 = none
    DIR/intrinsics/NAME.txt     3x3 K, 9 numbers (one row per line; one line also accepted)

Ground truth, when present, is ``DIR/groundtruth_depth/NAME.png`` in the sparse format.
Every problem is a :class:`BadInputError` naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.datasets.kitti import read_depth_png, write_depth_png
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.files import unreadable_reason
from depth_completion_ros.geometry.camera import CameraModel

IMAGE_DIR, SPARSE_DIR, INTRINSICS_DIR, GROUND_TRUTH_DIR = "image", "velodyne_raw", "intrinsics", "groundtruth_depth"


@dataclass(frozen=True)
class CompletionFrameFiles:
    """Paths of one frame; ``name`` is the ``velodyne_raw`` file name (the output's name)."""

    name: str
    image: Path
    sparse: Path
    intrinsics: Path


@dataclass(frozen=True)
class CompletionFrame:
    """One loaded frame.

    Attributes:
        rgb: (H, W, 3) uint8 RGB, or None when not loaded (:func:`load_frame`).
        sparse: (H, W) float32 metres, 0 = none.
        camera: pinhole model of the (H, W) image.
    """

    name: str
    rgb: np.ndarray | None
    sparse: np.ndarray
    camera: CameraModel


def _names(folder: Path, suffix: str) -> set[str]:
    return {p.stem for p in folder.glob(f"*{suffix}") if p.is_file()}


def list_frames(root: str | Path) -> tuple[list[CompletionFrameFiles], list[BadInputError]]:
    """Pair the files of a layout by stem.

    Returns:
        ``(frames, problems)``: complete frames sorted by name, and one error per missing
        or extra file (the frames it concerns are left out).

    Raises:
        BadInputError: ``root`` or one of its three folders does not exist.
    """
    root = Path(root)
    folders = {sub: root / sub for sub in (IMAGE_DIR, SPARSE_DIR, INTRINSICS_DIR)}
    for sub, folder in folders.items():
        if not folder.is_dir():
            raise BadInputError(
                str(folder), f"folder not found; --input must hold {IMAGE_DIR}/, {SPARSE_DIR}/ and {INTRINSICS_DIR}/"
            )
    sparse_names = _names(folders[SPARSE_DIR], ".png")
    image_names = _names(folders[IMAGE_DIR], ".png")
    intrinsics_names = _names(folders[INTRINSICS_DIR], ".txt")
    problems = []
    for name in sorted(sparse_names - image_names):
        problems.append(BadInputError(str(folders[IMAGE_DIR] / f"{name}.png"), f"missing; add the RGB image of {SPARSE_DIR}/{name}.png or remove the scan"))
    for name in sorted(sparse_names - intrinsics_names):
        problems.append(BadInputError(str(folders[INTRINSICS_DIR] / f"{name}.txt"), f"missing; add the 3x3 K of {SPARSE_DIR}/{name}.png or remove the scan"))
    for name in sorted(image_names - sparse_names):
        problems.append(BadInputError(str(folders[IMAGE_DIR] / f"{name}.png"), f"extra file: no {SPARSE_DIR}/{name}.png; add the scan or remove the image"))
    for name in sorted(intrinsics_names - sparse_names):
        problems.append(BadInputError(str(folders[INTRINSICS_DIR] / f"{name}.txt"), f"extra file: no {SPARSE_DIR}/{name}.png; add the scan or remove the file"))
    complete = sorted(sparse_names & image_names & intrinsics_names)
    frames = [
        CompletionFrameFiles(
            name=f"{name}.png",
            image=folders[IMAGE_DIR] / f"{name}.png",
            sparse=folders[SPARSE_DIR] / f"{name}.png",
            intrinsics=folders[INTRINSICS_DIR] / f"{name}.txt",
        )
        for name in complete
    ]
    return frames, problems


def read_intrinsics(path: str | Path, width: int, height: int) -> CameraModel:
    """Read a 3x3 K (9 numbers) into a rectified, distortion-free camera of ``width x height``."""
    path = Path(path)
    fix = "it must hold the 3x3 camera matrix K as 9 numbers, one row per line"
    try:
        numbers = np.array(path.read_text().split(), dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BadInputError(str(path), f"unreadable intrinsics ({type(error).__name__}); {fix}") from None
    if numbers.size != 9:
        raise BadInputError(str(path), f"holds {numbers.size} numbers; {fix}")
    try:
        return CameraModel(width=width, height=height, K=numbers.reshape(3, 3))
    except BadInputError as error:
        raise BadInputError(str(path), f"{error.problem}; {fix}") from None


def write_intrinsics(path: str | Path, camera: CameraModel) -> None:
    """Write the projection intrinsics of ``camera`` as 3 lines of 3 numbers."""
    K = camera.image_model().projection_intrinsics
    Path(path).write_text("".join(" ".join(f"{v:.9g}" for v in row) + "\n" for row in K))


def read_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an 8-bit colour or grey PNG."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(str(path), unreadable_reason(path, "an 8-bit RGB PNG"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_frame(files: CompletionFrameFiles, with_rgb: bool = True) -> CompletionFrame:
    """Read and cross-check one frame's three files (``with_rgb`` False: not the image, for
    methods that do not use it; ``rgb`` is then None)."""
    sparse = read_depth_png(files.sparse)
    rgb = read_rgb(files.image) if with_rgb else None
    if rgb is not None and rgb.shape[:2] != sparse.shape:
        raise BadInputError(
            str(files.image),
            f"is {rgb.shape[1]}x{rgb.shape[0]} but {files.sparse} is {sparse.shape[1]}x{sparse.shape[0]}; "
            "the image and the scan must have the same size",
        )
    camera = read_intrinsics(files.intrinsics, width=sparse.shape[1], height=sparse.shape[0])
    return CompletionFrame(files.name, rgb, sparse, camera)


def write_frame(
    root: str | Path, frame: CompletionFrame, ground_truth: np.ndarray | None = None
) -> None:
    """Write one frame (and optionally its ground truth) in the layout under ``root``."""
    root = Path(root)
    stem = Path(frame.name).stem
    for sub in (IMAGE_DIR, SPARSE_DIR, INTRINSICS_DIR) + ((GROUND_TRUTH_DIR,) if ground_truth is not None else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(root / IMAGE_DIR / f"{stem}.png"), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{root / IMAGE_DIR / stem}.png: could not write the PNG")
    write_depth_png(root / SPARSE_DIR / f"{stem}.png", frame.sparse)
    write_intrinsics(root / INTRINSICS_DIR / f"{stem}.txt", frame.camera)
    if ground_truth is not None:
        write_depth_png(root / GROUND_TRUTH_DIR / f"{stem}.png", ground_truth)
