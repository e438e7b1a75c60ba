"""argparse types for output paths, checked before any work starts.

An output folder must not be an existing file and must be creatable where it would go; an
output file must not be an existing folder and its folder must be creatable. A path that
fails gives argparse's one-line usage error (exit 2) naming the argument and the problem.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_creatable(path: Path) -> None:
    """Raises ArgumentTypeError when ``path`` (a folder to create or use) cannot be."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"'{path}' cannot be created: '{existing}' is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"'{path}' cannot be created: '{existing}' is not writable")


def output_dir(text: str) -> Path:
    """A folder to write into (created when missing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"'{path}' is an existing file; give a folder")
    _check_creatable(path)
    return path


def output_file(text: str) -> Path:
    """A file to write (its folder created when missing)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"'{path}' is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"'{path}' is not writable")
    _check_creatable(path.parent)
    return path


def new_bag(text: str) -> Path:
    """A bag to create: the path must not exist yet (bags are never overwritten)."""
    path = Path(text)
    if path.exists():
        raise argparse.ArgumentTypeError(f"'{path}' already exists; a new bag needs a new path (remove it or "
                                         "choose another)")
    _check_creatable(path.parent)
    return path
