"""Pick the ``learned`` (geometry) network's logit threshold without touching held-out frames.

Scores the network at several thresholds against ``sgbm`` on the simulator validation cache
(``val_cache`` of the training config) and on RADIATE's *trainable* pairs (never the
held-out ones), and prints IoU / precision / recall; the chosen threshold is the one with the
best real IoU whose precision stays at or above ``sgbm``'s on both sets.

    OMP_NUM_THREADS=1 python benchmarks/occupancy_geometry_threshold.py --weights W.pt \
        [--val-cache /work/data/occ_train/val] [--radiate /work/data/radiate]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from depth_completion_ros.geometry.voxels import OCCUPIED
from depth_completion_ros.models.occupancy_geometry import occupancy_state, predict_logits
from depth_completion_ros.models.occupancy_geometry_training import load_samples, sample_features

THRESHOLDS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5)


def _scores(counts: np.ndarray) -> dict[str, float]:
    tp, fp, fn = (float(c) for c in counts)
    return {"iou": tp / max(1.0, tp + fp + fn), "precision": tp / max(1.0, tp + fp), "recall": tp / max(1.0, tp + fn)}


def _add(counts: np.ndarray, occupied: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> None:
    counts += [np.sum(occupied & truth & valid), np.sum(occupied & ~truth & valid), np.sum(~occupied & truth & valid)]


def simulator(method, val_cache: Path) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    base, counts = np.zeros(3), {t: np.zeros(3) for t in THRESHOLDS}
    for sample in load_samples(sorted(val_cache.glob("*.npz"))):
        features = sample_features(sample)
        logits = predict_logits(method.model, features, method.device)
        valid, truth = ~sample["invalid"], sample["truth"]
        _add(base, sample["state"] == OCCUPIED, truth, valid)
        for t in THRESHOLDS:
            _add(counts[t], occupancy_state(logits, sample["state"], t, features[4] > 0) == OCCUPIED, truth, valid)
    return base, counts


def radiate(method, folder: Path) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    from depth_completion_ros.datasets.radiate import ZED_GRID, RadiateSequence
    from depth_completion_ros.eval.radiate import occupancy_target, stereo_frame

    if (folder / "data" / "radiate" / "tiny_foggy").is_dir():
        folder = folder / "data" / "radiate" / "tiny_foggy"
    seq = RadiateSequence(folder)
    frustum = seq.frustum(ZED_GRID)
    base, counts = np.zeros(3), {t: np.zeros(3) for t in THRESHOLDS}
    for i in seq.trainable:
        frame, target = stereo_frame(seq, i, ZED_GRID), occupancy_target(seq, i, ZED_GRID, frustum)
        features, sgbm = method.features(frame, ZED_GRID)
        logits = predict_logits(method.model, features, method.device)
        valid, truth = ~target.invalid, target.labels > 0
        _add(base, sgbm.state == OCCUPIED, truth, valid)
        for t in THRESHOLDS:
            _add(counts[t], occupancy_state(logits, sgbm.state, t, features[4] > 0) == OCCUPIED, truth, valid)
    return base, counts


def main(argv: list[str] | None = None) -> int:
    from depth_completion_ros.pipeline.occupancy_geometry import GeometryOccupancy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--val-cache", type=Path, default=Path("/work/data/occ_train/val"))
    parser.add_argument("--radiate", type=Path, default=Path("/work/data/radiate"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    method = GeometryOccupancy(args.weights, device="cpu")
    report = {}
    for name, run, source in (("simulator validation", simulator, args.val_cache),
                              ("RADIATE trainable", radiate, args.radiate)):
        if not source.exists():
            print(f"{name}: {source} missing, skipped", file=sys.stderr)
            continue
        base, counts = run(method, source)
        report[name] = {"sgbm": _scores(base), **{f"learned@{t:g}": _scores(c) for t, c in counts.items()}}
        print(f"## {name}")
        print("| method | IoU | precision | recall |\n|---|---|---|---|")
        for key, m in report[name].items():
            print(f"| {key} | {m['iou']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
