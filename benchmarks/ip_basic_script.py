"""IP-Basic's own demo loop, the reference of the whole-process timing in ``bench_completion.py``.

What Ku et al.'s ``depth_completion.py`` does per frame, from its public description: read the
uint16 LiDAR PNG, fill it with the fast pipeline (here :func:`~depth_completion_ros.pipeline.ip_basic.ip_basic_fast`,
the package's implementation of the published algorithm), write the uint16 PNG; one frame
after another, no RGB (IP-Basic does not use it).

Usage:
    python benchmarks/ip_basic_script.py INPUT_DIR OUTPUT_DIR   (INPUT_DIR/velodyne_raw/*.png)
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depth_completion_ros.pipeline.ip_basic import ip_basic_fast  # noqa: E402


def main(argv: list[str]) -> int:
    source, out = Path(argv[0]) / "velodyne_raw", Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.png")):
        sparse = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH).astype(np.float32) / 256.0
        depth = ip_basic_fast(sparse)
        cv2.imwrite(str(out / path.name), (np.clip(depth, 0, 255) * 256.0).astype(np.uint16))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
