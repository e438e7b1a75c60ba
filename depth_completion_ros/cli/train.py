"""``dcr train TASK --config FILE``: train a network of the package (tasks in :data:`TASKS`)."""

from __future__ import annotations

import argparse
import importlib

# task -> (module, function(config: dict, resume: bool, progress: bool) -> history, config loader)
TASKS: dict[str, tuple[str, str, str]] = {
    "occupancy": ("depth_completion_ros.models.occupancy_training", "train_occupancy", "load_train_config"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=sorted(TASKS), help="what to train")
    parser.add_argument("--config", required=True, metavar="FILE", help="training config (YAML)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt when it exists")
    parser.add_argument("--out-dir", metavar="DIR", help="override trainer.out_dir")
    parser.add_argument("--epochs", type=int, help="override trainer.epochs")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of progress bars")


def run(args: argparse.Namespace) -> int:
    module_name, train_name, loader_name = TASKS[args.task]
    module = importlib.import_module(module_name)
    config = getattr(module, loader_name)(args.config)
    trainer = dict(config.get("trainer") or {})
    if args.out_dir:
        trainer["out_dir"] = args.out_dir
    if args.epochs is not None:
        trainer["epochs"] = args.epochs
    config["trainer"] = trainer
    history = getattr(module, train_name)(config, resume=args.resume, progress=not args.no_progress)
    last = history["epochs"][-1] if history["epochs"] else {}
    print(f"done: {len(history['epochs'])} epochs; last {last}")
    return 0
