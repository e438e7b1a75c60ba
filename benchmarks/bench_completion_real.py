"""Depth completion on real LiDAR at several densities (issue 15's acceptance table).

Sets (held-out rings / points as ground truth after the occlusion filter, 1216x352 crop):

- KITTI raw 2011_09_26, the 20 validation frames of ``datasets/kitti_raw.py`` (never trained
  or tuned on; ``--split tuning``: the 10 frames a trainer validates on instead), at every density of :data:`~depth_completion_ros.datasets.kitti_raw.DENSITIES`
  (8-, 16-, 32-beam, half the points);
- the 3 KITTI object frames of ``../shared/data/kitti_object`` (16-beam protocol);
- the 2 DGP scenes of ``datasets/dgp_protocol.py`` (another LiDAR without rings, 27 camera
  images at 968x608; every 2nd / 4th point as input; scored where the ground truth is within
  80 m, KITTI's range — the sensor reaches ~230 m), validation only.

For each set, density and method (``ip_basic_multiscale``, ``classical``, ``learned`` with
``--weights``): RMSE, MAE, iRMSE, iMAE (mm, 1/km; mean over images, KITTI's convention) on
the ground-truth pixels *every* method predicts, and each method's coverage (the share of
ground-truth pixels it predicts: IP-Basic leaves the pixels above the top of its dilated
input in each column empty, 1-25 % of the KITTI ground truth, and among the hardest ones) with its RMSE and
MAE on all the pixels it predicts; then ``learned`` against ``classical`` (both dense: all
pixels) and against IP-Basic (common pixels), and the device. Every method runs through
:class:`~depth_completion_ros.pipeline.engine.CompletionEngine`, as in the node.

Usage:
    python benchmarks/bench_completion_real.py [--kitti-raw DIR] [--weights W.pt] [--densities 16-beam,half]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common import device_name  # noqa: E402

from depth_completion_ros.datasets.dgp_protocol import build_dgp_protocol, find_dgp  # noqa: E402
from depth_completion_ros.datasets.kitti_protocol import build_protocol  # noqa: E402
from depth_completion_ros.datasets.kitti_raw import DENSITIES, build_raw_protocol, find_kitti_raw  # noqa: E402
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame  # noqa: E402
from depth_completion_ros.datasets.shared_data import find_shared_data  # noqa: E402
from depth_completion_ros.eval.metrics import (  # noqa: E402
    DepthRange,
    MetricAccumulator,
    ground_truth_on_common_pixels,
)
from depth_completion_ros.pipeline.engine import CompletionEngine  # noqa: E402
from depth_completion_ros.pipeline.learned import SHIPPED_COMPLETION  # noqa: E402

METHODS = ("ip_basic_multiscale", "classical", "learned")
METRICS = ("rmse_mm", "mae_mm", "irmse_1km", "imae_1km")
DGP_RANGE = DepthRange("0-80m", 0.0, 80.0)


def score(engines: dict[str, CompletionEngine], frames: list[ProtocolFrame],
          depth_range: DepthRange = DepthRange("all")) -> dict[str, dict[str, float]]:
    """Method -> mean per-image KITTI metrics (mm, 1/km) on the pixels every method predicts
    (``rmse_mm`` ...), on all the pixels it predicts (``own_rmse_mm`` ...), and its ``coverage``
    of the ground truth (0-1)."""
    common = {method: MetricAccumulator(ranges=[depth_range]) for method in engines}
    own = {method: MetricAccumulator(ranges=[depth_range]) for method in engines}
    for f in frames:
        depths = {method: engine.complete(f.frame.rgb, f.frame.sparse, f.frame.camera).depth
                  for method, engine in engines.items()}
        common_gt = ground_truth_on_common_pixels(f.ground_truth, list(depths.values()))
        for method, depth in depths.items():
            common[method].add(depth, common_gt)
            own[method].add(depth, f.ground_truth)
    results = {}
    for method in engines:  # to_dict: NaN (nothing scored) becomes None in the JSON report
        on_common, on_own = common[method].summaries()[0].to_dict(), own[method].summaries()[0].to_dict()
        results[method] = ({key: on_common[key] for key in METRICS}
                           | {f"own_{key}": on_own[key] for key in METRICS} | {"coverage": on_own["coverage"]})
    return results


def sets(kitti_raw: Path | None, densities: list[str], split: str = "validation") -> dict[str, list[ProtocolFrame]]:
    """Set name -> its frames (the sets whose data is present)."""
    out = {}
    if kitti_raw is not None:
        for density in densities:
            frames = build_raw_protocol(kitti_raw, density, split)
            out[f"KITTI raw {split} ({len(frames)}) {density}"] = frames
    else:
        print("KITTI raw frames not found: set $DCR_KITTI_RAW (see datasets/kitti_raw.py); skipped", file=sys.stderr)
    kitti_object = find_shared_data("kitti_object", REPO_ROOT)
    if kitti_object is not None:
        out["KITTI object (3) 16-beam"] = build_protocol(kitti_object)
    dgp = find_dgp()
    if dgp is not None:
        for density in ("quarter", "half"):
            frames = build_dgp_protocol(dgp, density)
            out[f"DGP ({len(frames)} images) {density} points, GT <= 80 m"] = frames
    else:
        print("DGP scenes not found: set $DCR_DGP (see datasets/dgp_protocol.py); skipped", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kitti-raw", type=Path, default=None, help="the 2011_09_26 drive folder (default: $DCR_KITTI_RAW)")
    parser.add_argument("--weights", type=Path, default=SHIPPED_COMPLETION, help="learned checkpoint (default: shipped)")
    parser.add_argument("--densities", default=",".join(DENSITIES), help="comma-separated (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="device of the learned method (default: cpu)")
    parser.add_argument("--split", default="validation", choices=("validation", "tuning"),
                        help="KITTI raw frames: validation (the report) or tuning (for choices while training; "
                             "default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    frames = sets(args.kitti_raw or find_kitti_raw(), [d.strip() for d in args.densities.split(",") if d.strip()],
                  args.split)
    if not frames:
        print("no real data found: nothing measured", file=sys.stderr)
        return 2
    engines = {name: CompletionEngine(name, device=args.device if name == "learned" else "cpu",
                                      weights=args.weights if name == "learned" else None) for name in METHODS}
    report = {"device": device_name(), "weights": str(args.weights), "sets": {}}
    print(f"device: {report['device']}; learned weights: {args.weights}")
    print("RMSE / MAE / iRMSE / iMAE on the ground-truth pixels all three methods predict; then RMSE / MAE on all "
          "the pixels each method predicts, and its coverage of the ground truth")
    print("| set | method | RMSE mm | MAE mm | iRMSE 1/km | iMAE 1/km | own RMSE mm | own MAE mm | coverage |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for name, set_frames in frames.items():
        # DGP's LiDAR reaches ~230 m; score it over KITTI's range (its ground truth ends near 80 m)
        depth_range = DGP_RANGE if name.startswith("DGP") else DepthRange("all")
        results = score(engines, set_frames, depth_range)
        report["sets"][name] = results
        for method, m in results.items():
            print(f"| {name} | {method} | {m['rmse_mm']:.0f} | {m['mae_mm']:.0f} | {m['irmse_1km']:.2f} | "
                  f"{m['imae_1km']:.2f} | {m['own_rmse_mm']:.0f} | {m['own_mae_mm']:.0f} | {m['coverage']:.3f} |",
                  flush=True)
    print("\nlearned against classical (both dense: all their pixels) and against IP-Basic (the pixels both predict); "
          "ratios of RMSE / MAE, < 1 = learned better:")
    for name, results in report["sets"].items():
        learned, classical, ip_basic = results["learned"], results["classical"], results["ip_basic_multiscale"]
        print(f"- {name}: vs classical {learned['own_rmse_mm'] / classical['own_rmse_mm']:.3f} / "
              f"{learned['own_mae_mm'] / classical['own_mae_mm']:.3f}; vs IP-Basic "
              f"{learned['rmse_mm'] / ip_basic['rmse_mm']:.3f} / {learned['mae_mm'] / ip_basic['mae_mm']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
