"""``dcr train``: build the training-frame cache, and train the completion or occupancy network.

* ``dcr train cache --out DIR --frames N --seed S [--rgbd DIR]``: simulate N frames with
  random LiDAR patterns (and LiDAR simulated from RGB-D frames) into ``DIR/*.npz``;
  resumable (existing files are kept).
* ``dcr train completion --config FILE [--resume] [--device cpu|cuda]``: run the
  stages of a training config (``config/train/completion_small.yaml``). For data-parallel
  training start it with torchrun, e.g.
  ``python -m torch.distributed.run --nproc_per_node 4 -m depth_completion_ros.cli.main train completion ...``.
* ``dcr train occupancy --config FILE [--resume] [--out-dir DIR] [--epochs N]``: train the
  OccDepth-style stereo occupancy network (``config/train/occupancy_cpu.yaml``); same
  conventions (resume, validation, progress, seed, torchrun DDP).
* ``dcr train occupancy-geometry --config FILE [--resume] [--device cpu|cuda]``: the
  geometry-first ``learned`` occupancy network (``config/train/occupancy_geometry_cpu.yaml``):
  simulates its cache when missing, then trains with the completion trainer's pieces.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED, EXIT_USAGE
from depth_completion_ros.cli.paths import output_dir
from depth_completion_ros.errors import BadInputError

TUM_INTRINSICS = (525.0, 525.0, 319.5, 239.5)  # TUM RGB-D ROS default (fx, fy, cx, cy)
TUM_DEPTH_SCALE = 5000.0  # TUM depth PNG: value / 5000 = metres


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="train_command", metavar="WHAT", required=True)
    cache = commands.add_parser("cache", help="simulate (or read real) training frames into a cache folder")
    cache.add_argument("--out", required=True, type=output_dir, metavar="DIR", help="cache folder (created)")
    cache.add_argument("--frames", type=int, default=1000, help="simulator frames (default: %(default)s)")
    cache.add_argument("--seed", type=int, default=0, help="simulator stream seed (default: %(default)s)")
    cache.add_argument("--indoor-fraction", type=float, default=0.25,
                       help="fraction of indoor scenes (default: %(default)s)")
    cache.add_argument("--rig-lidar", action="store_true",
                       help="use the rig's own LiDAR and mount instead of random patterns (evaluation sets)")
    cache.add_argument("--rig", default="kitti",
                       help="simulator rig: kitti, nuscenes or a rig YAML (default: %(default)s)")
    cache.add_argument("--radar", action="store_true",
                       help="also store the rig radar's sweep and the semantic mask (radar-camera training)")
    cache.add_argument("--camera-scale", type=float, default=1.0,
                       help="render the camera at this fraction of the rig's size (default: %(default)s)")
    cache.add_argument("--tum-rgbd", type=Path, metavar="DIR", action="append", default=[],
                       help="a folder with TUM_color.png + TUM_depth.png; LiDAR is simulated from its depth")
    cache.add_argument("--rgbd-variants", type=int, default=8,
                       help="random LiDAR patterns per RGB-D frame (default: %(default)s)")
    cache.add_argument("--kitti-raw", type=Path, metavar="DIR",
                       help="also cache the real KITTI raw 2011_09_26 frames of this drive folder (see "
                            "datasets/kitti_raw.py; sparse supervision only)")
    cache.add_argument("--kitti-raw-split", default="fit", choices=("fit", "tuning", "training"),
                       help="which of its frames: fit (train on), tuning (validate on) or both; its validation "
                            "frames are never cached (default: %(default)s)")
    completion = commands.add_parser("completion", help="train the teacher and the completion network")
    completion.add_argument("--config", required=True, type=Path, metavar="FILE", help="training config YAML")
    completion.add_argument("--resume", action="store_true", help="continue from the checkpoints in the out folder")
    completion.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="(default: %(default)s)")
    occupancy = commands.add_parser("occupancy", help="train the stereo occupancy network")
    occupancy.add_argument("--config", required=True, type=Path, metavar="FILE", help="training config YAML")
    occupancy.add_argument("--resume", action="store_true", help="continue from OUT_DIR/occdepth_last.pt when it exists")
    occupancy.add_argument("--out-dir", metavar="DIR", help="override trainer.out_dir")
    occupancy.add_argument("--epochs", type=int, help="override trainer.epochs")
    occupancy.add_argument("--no-progress", action="store_true", help="log lines instead of progress bars")
    geometry = commands.add_parser("occupancy-geometry", help="train the geometry-first occupancy network (learned)")
    geometry.add_argument("--config", required=True, type=Path, metavar="FILE", help="training config YAML")
    geometry.add_argument("--resume", action="store_true", help="continue from OUT/occupancy_geometry.pt")
    geometry.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="(default: %(default)s)")
    geometry.add_argument("--epochs", type=int, help="override the config's epochs (e.g. with --resume)")
    geometry.add_argument("--max-minutes", type=float, help="override the config's max_minutes")


def load_tum_frame(folder: Path):
    """(rgb uint8, depth metres, camera) of ``TUM_color.png`` / ``TUM_depth.png`` in ``folder``."""
    import cv2
    import numpy as np

    from depth_completion_ros.geometry.camera import CameraModel

    rgb = cv2.imread(str(folder / "TUM_color.png"), cv2.IMREAD_COLOR)
    depth = cv2.imread(str(folder / "TUM_depth.png"), cv2.IMREAD_UNCHANGED)
    if rgb is None or depth is None:
        raise BadInputError(str(folder), "needs TUM_color.png and TUM_depth.png (TUM RGB-D format)")
    fx, fy, cx, cy = TUM_INTRINSICS
    camera = CameraModel.from_intrinsics(fx, fy, cx, cy, rgb.shape[1], rgb.shape[0])
    return cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), (depth.astype(np.float32) / TUM_DEPTH_SCALE), camera


def _cache(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from depth_completion_ros.training.cache import build_cache

    rgbd = [load_tum_frame(folder) for folder in args.tum_rgbd]
    total = args.frames + len(rgbd) * args.rgbd_variants
    kitti_raw = None
    if args.kitti_raw is not None:
        from depth_completion_ros.datasets.kitti_raw import frame_stems

        kitti_raw = (args.kitti_raw, args.kitti_raw_split)
        total += len(frame_stems(*kitti_raw))
    for _ in tqdm(build_cache(args.out, args.frames, args.seed, rgbd, args.rgbd_variants,
                              rig=args.rig, indoor_fraction=args.indoor_fraction,
                              random_lidar_pattern=not args.rig_lidar, radar=args.radar,
                              camera_scale=args.camera_scale, kitti_raw=kitti_raw),
                  total=total, unit="frame", file=sys.stderr):
        pass
    print(f"{total} cached frames in {args.out}")
    return 0


def _completion(args: argparse.Namespace) -> int:
    from depth_completion_ros.training.completion import TrainConfig, train
    from depth_completion_ros.pipeline.classical import classical_fill

    config = TrainConfig.load(args.config)
    written = train(config, functools.partial(classical_fill, rgb=None), args.device, args.resume)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _occupancy(args: argparse.Namespace) -> int:
    from depth_completion_ros.training.occupancy import load_train_config, train_occupancy

    config = load_train_config(args.config)
    trainer = dict(config.get("trainer") or {})
    if args.out_dir:
        trainer["out_dir"] = args.out_dir
    if args.epochs is not None:
        trainer["epochs"] = args.epochs
    config["trainer"] = trainer
    history = train_occupancy(config, resume=args.resume, progress=not args.no_progress)
    last = history["epochs"][-1] if history["epochs"] else {}
    print(f"done: {len(history['epochs'])} epochs; last {last}")
    return 0


def _occupancy_geometry(args: argparse.Namespace) -> int:
    from depth_completion_ros.training.occupancy_geometry import GeometryTrainConfig, train_geometry

    path = train_geometry(GeometryTrainConfig.load(args.config, epochs=args.epochs,
                                                          max_minutes=args.max_minutes), args.device, args.resume,
                          log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"occupancy_geometry: {path}")
    return 0


COMMANDS = {"cache": _cache, "completion": _completion, "occupancy": _occupancy,
            "occupancy-geometry": _occupancy_geometry}


def run(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.train_command](args)
    except (BadInputError, FileNotFoundError) as error:
        print(f"dcr train: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as error:
        # the trainers write their checkpoints atomically at every epoch: what was finished is there
        if args.train_command == "cache":
            kept = "; the cache frames written so far are kept"
        else:
            kept = "; the checkpoints of the finished epochs are kept: continue with --resume"
        saved = getattr(error, "saved", None)  # models.checkpoint.TrainingInterrupted (not imported: torch)
        if saved is not None:
            kept = (f" in {error.where}; the weights of that moment are in {saved} (a usable checkpoint, marked "
                    f"interrupted){kept} (that epoch starts again)")
        print(f"dcr train {args.train_command}: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
