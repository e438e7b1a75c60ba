"""Locate the real sample data that sits beside the project (``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "DCR_SHARED_DATA"
_DEFAULT_SHARED_DATA = Path("/work/shared/data")


def find_shared_data(name: str, repo_root: Path | None = None) -> Path | None:
    """The folder ``name`` of the shared sample data, or None when it is absent.

    Looks in ``repo_root/../shared/data``, then ``$DCR_SHARED_DATA``, then ``/work/shared/data``.
    """
    candidates = [repo_root / ".." / "shared" / "data"] if repo_root is not None else []
    if os.environ.get(SHARED_DATA_ENV):
        candidates.append(Path(os.environ[SHARED_DATA_ENV]))
    candidates.append(_DEFAULT_SHARED_DATA)
    for root in candidates:
        if (root / name).is_dir():
            return (root / name).resolve()
    return None
