"""SemanticKITTI voxel files and the semantic scene completion (SSC) metrics.

Files (one per frame, the grid flattened in C order over (x, y, z) = 256 x 256 x 32):

- ``.bin``, ``.invalid``, ``.occluded``: one bit per voxel, packed 8 voxels per byte,
  most significant bit first (``np.packbits``), as the SemanticKITTI API writes them;
- ``.label``: uint16 little-endian class id per voxel.

Metrics, as the SemanticKITTI SSC benchmark computes them: TP/FP/FN accumulated over the
whole data set (not averaged per frame), ignoring invalid voxels and voxels labelled
255. Completion treats any class > 0 as occupied; semantic mIoU averages the IoU of the
learning classes 1-19.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.voxels import IGNORE_LABEL

SEMANTIC_KITTI_SHAPE = (256, 256, 32)
NUM_LEARNING_CLASSES = 20  # 0 = empty / unlabeled, 1-19 evaluated


def pack_bits(mask: np.ndarray) -> np.ndarray:
    """(nx, ny, nz) bool -> (ceil(N / 8),) uint8, C order, most significant bit first."""
    return np.packbits(np.asarray(mask, dtype=bool).reshape(-1))


def unpack_bits(packed: np.ndarray, shape: tuple[int, int, int] = SEMANTIC_KITTI_SHAPE) -> np.ndarray:
    """Inverse of :func:`pack_bits`: (nx, ny, nz) bool."""
    count = int(np.prod(shape))
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if packed.size != (count + 7) // 8:
        raise BadInputError("voxel file", f"has {packed.size} bytes, a {shape} grid needs {(count + 7) // 8}")
    return np.unpackbits(packed)[:count].astype(bool).reshape(shape)


def write_bits(path: str | Path, mask: np.ndarray) -> None:
    """Write a ``.bin`` / ``.invalid`` / ``.occluded`` file."""
    pack_bits(mask).tofile(str(path))


def read_bits(path: str | Path, shape: tuple[int, int, int] = SEMANTIC_KITTI_SHAPE) -> np.ndarray:
    """Read a ``.bin`` / ``.invalid`` / ``.occluded`` file as (nx, ny, nz) bool."""
    try:
        return unpack_bits(np.fromfile(str(path), dtype=np.uint8), shape)
    except BadInputError as error:
        raise BadInputError(str(path), error.problem) from None


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write a ``.label`` file (uint16 little-endian per voxel)."""
    np.asarray(labels).astype("<u2").reshape(-1).tofile(str(path))


def read_labels(path: str | Path, shape: tuple[int, int, int] = SEMANTIC_KITTI_SHAPE) -> np.ndarray:
    """Read a ``.label`` file as (nx, ny, nz) uint16."""
    labels = np.fromfile(str(path), dtype="<u2")
    if labels.size != int(np.prod(shape)):
        raise BadInputError(str(path), f"has {labels.size} labels, a {shape} grid needs {int(np.prod(shape))}")
    return labels.astype(np.uint16).reshape(shape)


@dataclass
class SSCMetrics:
    """Accumulated semantic scene completion counts (SemanticKITTI protocol).

    Call :meth:`add` per frame, then read :meth:`summary`.
    """

    num_classes: int = NUM_LEARNING_CLASSES
    completion: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))  # TP, FP, FN
    semantic: np.ndarray = field(default=None)  # (C, 3) TP, FP, FN per class

    def __post_init__(self) -> None:
        if self.semantic is None:
            self.semantic = np.zeros((self.num_classes, 3), dtype=np.int64)

    def add(self, predicted: np.ndarray, target: np.ndarray, invalid: np.ndarray | None = None) -> None:
        """Accumulate one frame.

        Args:
            predicted: (nx, ny, nz) class ids, 0 = empty (for completion only, any
                occupied class > 0 will do).
            target: (nx, ny, nz) ground-truth class ids, 0 = empty, 255 = ignored.
            invalid: optional (nx, ny, nz) bool, voxels to ignore.
        """
        if predicted.shape != target.shape:
            raise BadInputError("predicted", f"has shape {predicted.shape}, the target {target.shape}")
        keep = target != IGNORE_LABEL
        if invalid is not None:
            keep &= ~np.asarray(invalid, dtype=bool)
        pred, true = predicted[keep].astype(np.int64), target[keep].astype(np.int64)
        occupied_pred, occupied_true = pred > 0, true > 0
        self.completion += [np.sum(occupied_pred & occupied_true), np.sum(occupied_pred & ~occupied_true),
                            np.sum(~occupied_pred & occupied_true)]
        pred_c = np.clip(pred, 0, self.num_classes - 1)
        true_c = np.clip(true, 0, self.num_classes - 1)
        confusion = np.bincount(true_c * self.num_classes + pred_c,
                                minlength=self.num_classes**2).reshape(self.num_classes, self.num_classes)
        tp = np.diag(confusion)
        self.semantic += np.stack([tp, confusion.sum(0) - tp, confusion.sum(1) - tp], axis=1)

    def summary(self) -> dict[str, float]:
        """Completion ``iou``, ``precision``, ``recall``; semantic ``miou`` over the classes
        1-19 present in the ground truth or the prediction, and ``miou_all`` over all 19
        with absent classes at IoU 0 (what the semantic-kitti-api prints; the two agree on
        data that holds every class). NaN when nothing was counted."""
        tp, fp, fn = (float(v) for v in self.completion)
        per_class = self.class_iou()
        counted = per_class[1:][~np.isnan(per_class[1:])]
        return {
            "iou": _ratio(tp, tp + fp + fn),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "miou": float(counted.mean()) if counted.size else float("nan"),
            "miou_all": float(np.nan_to_num(per_class[1:], nan=0.0).mean()) if counted.size else float("nan"),
        }

    def class_iou(self) -> np.ndarray:
        """(C,) IoU per class, NaN for classes absent from both prediction and ground truth."""
        tp, fp, fn = self.semantic.T.astype(np.float64)
        union = tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")
