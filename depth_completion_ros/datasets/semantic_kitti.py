"""SemanticKITTI voxel files (``sequences/NN/voxels/``).

Files (one per frame, the grid flattened in C order over (x, y, z) = 256 x 256 x 32):

- ``.bin``, ``.invalid``, ``.occluded``: one bit per voxel, packed 8 voxels per byte,
  most significant bit first (``np.packbits``), as the SemanticKITTI API writes them;
- ``.label``: uint16 little-endian class id per voxel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depth_completion_ros.errors import BadInputError

SEMANTIC_KITTI_SHAPE = (256, 256, 32)


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
