"""The per-frame timing line that batch commands print at the end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def frame_timing_summary(label: str, compute_ms: Sequence[float], total_ms: Sequence[float]) -> str:
    """``N frame(s) written; time per frame: LABEL median .. ms (mean .., max ..), with
    reading and writing median .. ms`` (times in milliseconds, one per written frame)."""
    return (f"{len(compute_ms)} frame(s) written; time per frame: {label} median {np.median(compute_ms):.1f} ms "
            f"(mean {np.mean(compute_ms):.1f}, max {np.max(compute_ms):.1f}), with reading and writing median "
            f"{np.median(total_ms):.1f} ms")
