"""Pick the ``learned`` (geometry) network's logit threshold without touching held-out frames.

Scores the network at several thresholds against ``sgbm`` on the simulator validation cache
(``val_cache`` of the training config) and on RADIATE's real pairs that the network never
trained on and that are not held out: every *trainable* pair for a network trained on the
simulator only, else the last
:data:`~depth_completion_ros.training.occupancy_geometry.REAL_VALIDATION_PAIRS`
trainable pairs, and prints IoU / precision / recall
and the chosen threshold: the best real IoU whose precision stays at or above ``sgbm``'s on
both sets. The RADIATE held-out pairs are never read. ``--ship FILE`` writes the weights a
node loads: the checkpoint's shipped (EMA) weights with the chosen threshold, without the
optimizer and raw weights that only ``--resume`` needs.

    OMP_NUM_THREADS=1 python benchmarks/occupancy_geometry_threshold.py --weights W.pt \
        [--val-cache /work/data/occ_train/val] [--radiate /work/data/radiate] \
        [--radiate-cache /work/data/occ_train/radiate] [--ship depth_completion_ros/weights/occupancy_geometry.pt]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from depth_completion_ros.datasets.radiate import find_radiate
from depth_completion_ros.geometry.voxels import OCCUPIED
from depth_completion_ros.models.checkpoint import save_checkpoint
from depth_completion_ros.models.occupancy_geometry import (
    KIND,
    build_geometry_net,
    load_geometry_net,
    occupancy_state,
    predict_logits,
)
from depth_completion_ros.training.occupancy_geometry import build_radiate_cache, load_samples, sample_features

THRESHOLDS = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)


def _scores(counts: np.ndarray) -> dict[str, float]:
    tp, fp, fn = (float(c) for c in counts)
    return {"iou": tp / max(1.0, tp + fp + fn), "precision": tp / max(1.0, tp + fp), "recall": tp / max(1.0, tp + fn)}


def _add(counts: np.ndarray, occupied: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> None:
    counts += [np.sum(occupied & truth & valid), np.sum(occupied & ~truth & valid), np.sum(~occupied & truth & valid)]


def threshold_counts(model, files: list[Path]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """TP / FP / FN of ``sgbm`` and of the network at every threshold over cached samples."""
    base, counts = np.zeros(3), {t: np.zeros(3) for t in THRESHOLDS}
    for sample in load_samples(files):
        features = sample_features(sample)
        logits = predict_logits(model, features)
        valid, truth = ~sample["invalid"], sample["truth"]
        _add(base, sample["state"] == OCCUPIED, truth, valid)
        for t in THRESHOLDS:
            _add(counts[t], occupancy_state(logits, sample["state"], t, features[4] > 0) == OCCUPIED, truth, valid)
    return base, counts


def chosen_threshold(report: dict) -> float | None:
    """The best real IoU with precision >= ``sgbm``'s on every set (None: no threshold qualifies)."""
    def keeps_precision(t: float) -> bool:
        return all(r[f"learned@{t:g}"]["precision"] >= r["sgbm"]["precision"] for r in report.values())

    qualifying = [t for t in THRESHOLDS if keeps_precision(t)]
    real = report.get("RADIATE validation")
    if not qualifying or real is None:
        return None
    return max(qualifying, key=lambda t: real[f"learned@{t:g}"]["iou"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--val-cache", type=Path, default=Path("/work/data/occ_train/val"))
    parser.add_argument("--radiate", type=Path, default=Path("/work/data/radiate"))
    parser.add_argument("--radiate-cache", type=Path, default=Path("/work/data/occ_train/radiate"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--ship", type=Path, metavar="FILE", help="write the weights with the chosen threshold here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, payload = load_geometry_net(args.weights)
    sets = {}
    if args.val_cache.is_dir():
        sets["simulator validation"] = sorted(args.val_cache.glob("*.npz"))
    folder = find_radiate(root=args.radiate)
    if folder is not None:
        training, validation = build_radiate_cache(args.radiate_cache, folder)
        # a network that never saw real data is validated on every trainable pair
        trained_on_real = float(payload["train_config"].get("real_fraction", 0.0)) > 0
        sets["RADIATE validation"] = validation if trained_on_real else training + validation
    if not sets:
        print(f"nothing to score: neither {args.val_cache} nor {args.radiate} exists", file=sys.stderr)
        return 2
    report = {}
    for name, files in sets.items():
        base, counts = threshold_counts(model, files)
        report[name] = {"sgbm": _scores(base), **{f"learned@{t:g}": _scores(c) for t, c in counts.items()}}
        print(f"## {name} ({len(files)} frames)")
        print("| method | IoU | precision | recall |\n|---|---|---|---|")
        for key, m in report[name].items():
            print(f"| {key} | {m['iou']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    threshold = chosen_threshold(report)
    print(f"chosen threshold: {threshold}")
    if args.json:
        args.json.write_text(json.dumps({"sets": report, "threshold": threshold}, indent=1))
    if args.ship:
        if threshold is None:
            print("no threshold keeps sgbm's precision: nothing shipped", file=sys.stderr)
            return 1
        shipped = build_geometry_net(replace(model.config, threshold=threshold))
        shipped.load_state_dict(model.state_dict())
        save_checkpoint(args.ship, KIND, shipped, payload["train_config"],
                        {**payload["metrics"], "threshold_selection": report}, payload["progress"])
        print(f"shipped: {args.ship} (threshold {threshold:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
