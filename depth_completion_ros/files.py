"""Saying why a data file could not be read: missing, empty, a Git LFS pointer, or damaged."""

from __future__ import annotations

from pathlib import Path

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"


def is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` is a Git LFS pointer file (a ~130-byte text stub left where the data
    should be when a repository was cloned without ``git lfs``)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


def unreadable_reason(path: str | Path, expected: str) -> str:
    """One line: why ``path`` could not be read as ``expected`` (e.g. "an 8-bit image")."""
    path = Path(path)
    if not path.exists():
        return "not found"
    if path.is_dir():
        return f"is a folder, not {expected}"
    if path.stat().st_size == 0:
        return f"is empty, not {expected}"
    if is_lfs_pointer(path):
        return (f"is a Git LFS pointer ({path.stat().st_size} bytes), not {expected}: fetch the real file "
                "('git lfs pull' in its repository) or use a full copy of the data")
    return f"cannot be read as {expected} (truncated, damaged or another format); replace the file"
