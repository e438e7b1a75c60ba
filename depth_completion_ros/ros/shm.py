"""Zombie Fast DDS shared-memory files, found and removed without the Fast DDS tools.

Fast DDS keeps each shared-memory port and segment in ``/dev/shm`` beside an ``_el`` /
``_sl`` lock file that its owner holds with ``flock`` while it lives. A process that is
killed (SIGKILL, a timed-out test, a crash) leaves them behind; later participants that
open such a port can stall or deadlock (eProsima/Fast-DDS#1144). ``fastdds shm clean``
removes the files whose lock nobody holds; this module does the same for machines where
that tool is not installed (ROS from PyPI wheels). Files in use are never touched.
"""

from __future__ import annotations

import fcntl
import re
from pathlib import Path

SHM_DIR = Path("/dev/shm")
_LOCK_FILE = re.compile(r"^(?P<name>(fastdds|fastrtps)_(port\d{1,5}|[0-9a-z]{16}))_(el|sl)$")


def _is_locked(path: Path) -> bool:
    """Whether a live process holds the lock file (a failed non-blocking flock)."""
    try:
        with open(path, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    return False


def zombie_shm_files(directory: Path = SHM_DIR) -> list[Path]:
    """The files of Fast DDS ports and segments whose owner is gone.

    Returns:
        For each unlocked ``<name>_el`` / ``<name>_sl``: the lock file, ``<name>`` and
        ``sem.<name>_mutex`` (those that exist), sorted.
    """
    if not directory.is_dir():
        return []
    zombies: set[Path] = set()
    for lock in directory.iterdir():
        match = _LOCK_FILE.match(lock.name)
        if match is None or _is_locked(lock):
            continue
        name = match["name"]
        zombies.update(p for p in (lock, directory / name, directory / f"sem.{name}_mutex") if p.exists())
    return sorted(zombies)


def clean_zombie_shm(directory: Path = SHM_DIR) -> list[Path]:
    """Remove :func:`zombie_shm_files`; returns what was removed."""
    removed = []
    for path in zombie_shm_files(directory):
        try:
            path.unlink()
        except OSError:
            continue  # already gone, or not ours to remove
        removed.append(path)
    return removed
