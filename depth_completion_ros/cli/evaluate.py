"""``dcr evaluate``: KITTI depth metrics of predicted depth PNGs against ground-truth PNGs.

Files are paired by name (``--pred DIR/NAME.png`` with ``--gt DIR/NAME.png``, both uint16
depth x 256). Prints the metrics overall, by ground-truth range and with nuScenes-style
caps (see :mod:`depth_completion_ros.eval.metrics` for the definitions) and writes them
as JSON. A missing, extra or unreadable file is reported on one line and the frame left
out; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from depth_completion_ros.cli.paths import output_file
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.metrics import DEFAULT_CAPS, DEFAULT_RANGE_BUCKETS


def _parse_buckets(text: str) -> list[tuple[float, float]]:
    try:
        buckets = [tuple(float(v) for v in item.split("-")) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not like 0-20,20-40,40-80") from None
    if any(len(b) != 2 or not 0 <= b[0] < b[1] for b in buckets):
        raise argparse.ArgumentTypeError(f"'{text}': each bucket is LOWER-UPPER metres with 0 <= LOWER < UPPER")
    return buckets


def _parse_caps(text: str) -> list[float]:
    try:
        caps = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not like 50,70,80") from None
    if any(c <= 0 for c in caps):
        raise argparse.ArgumentTypeError(f"'{text}': caps are positive metres")
    return caps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default_buckets = ",".join(f"{lo:g}-{hi:g}" for lo, hi in DEFAULT_RANGE_BUCKETS)
    parser.add_argument("--pred", required=True, type=Path, metavar="DIR", help="folder of predicted depth PNGs")
    parser.add_argument("--gt", required=True, type=Path, metavar="DIR", help="folder of ground-truth depth PNGs")
    parser.add_argument("--json", type=output_file, metavar="FILE",
                        help="also write the metrics (overall, by range, per image) here")
    parser.add_argument("--ranges", type=_parse_buckets, default=list(DEFAULT_RANGE_BUCKETS),
                        help=f"ground-truth range buckets in metres, LOWER < d <= UPPER (default: {default_buckets})")
    parser.add_argument("--caps", type=_parse_caps, default=list(DEFAULT_CAPS),
                        help=f"nuScenes-style caps, 0 < d <= CAP metres (default: {','.join(f'{c:g}' for c in DEFAULT_CAPS)})")


def _error(message: object) -> None:
    print(f"dcr evaluate: error: {message}", file=sys.stderr)


def _pair_files(pred_dir: Path, gt_dir: Path) -> tuple[list[str], list[BadInputError]]:
    for folder, option in ((pred_dir, "--pred"), (gt_dir, "--gt")):
        if not folder.is_dir():
            raise BadInputError(str(folder), f"folder not found; {option} must be a folder of depth PNGs")
    pred = {p.name for p in pred_dir.glob("*.png")}
    gt = {p.name for p in gt_dir.glob("*.png")}
    problems = [
        BadInputError(str(pred_dir / name), f"missing; run dcr complete on the frame of {gt_dir / name}")
        for name in sorted(gt - pred)
    ] + [
        BadInputError(str(pred_dir / name), f"extra file: no {gt_dir / name}; remove it or add its ground truth")
        for name in sorted(pred - gt)
    ]
    return sorted(pred & gt), problems


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros.datasets.kitti import read_depth_png
    from depth_completion_ros.eval.metrics import MetricAccumulator, default_ranges, format_table

    try:
        names, problems = _pair_files(args.pred, args.gt)
    except BadInputError as error:
        _error(error)
        return 2
    for problem in problems:
        _error(problem)
    accumulator = MetricAccumulator(ranges=default_ranges(args.ranges, args.caps))
    per_image = {}
    for name in names:
        try:
            gt = read_depth_png(args.gt / name)
            pred = read_depth_png(args.pred / name)
            if pred.shape != gt.shape:
                raise BadInputError(
                    str(args.pred / name),
                    f"is {pred.shape[1]}x{pred.shape[0]} but the ground truth is {gt.shape[1]}x{gt.shape[0]}; "
                    "predict at the ground truth's size",
                )
        except BadInputError as error:
            problems.append(error)
            _error(error)
            continue
        per_image[name] = accumulator.add(pred, gt)["all"].to_dict()
    summaries = accumulator.summaries()
    print(f"{len(per_image)} image(s) evaluated, {len(problems)} problem(s)")
    print(format_table(summaries))
    if args.json:
        report = {
            "pred": str(args.pred),
            "gt": str(args.gt),
            "images": len(per_image),
            "problems": [str(p) for p in problems],
            "groups": [s.to_dict() for s in summaries],
            "per_image": per_image,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, allow_nan=False))
        print(f"metrics written to {args.json}")
    return 1 if problems or not per_image else 0
