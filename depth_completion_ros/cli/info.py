"""``dcr info``: versions, compute device and environment checks, one line each."""

from __future__ import annotations

import argparse
import ctypes.util
import importlib
import os
import platform
import sys
from pathlib import Path

from depth_completion_ros.ros.shm import SHM_DIR, clean_zombie_shm, zombie_shm_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-docs", nargs="?", const="-", type=Path, metavar="README",
                        help="print each node's Subscribed / Published / Parameters tables (Markdown), or with a "
                             "file, rewrite its generated 'Nodes' block in place")
    parser.add_argument("--clean-shm", action="store_true",
                        help="remove the Fast DDS shared-memory files of dead processes from /dev/shm "
                             "(what 'fastdds shm clean' does; files in use are kept)")


def _module_version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except Exception as error:  # report any import failure, this is a diagnostic tool
        return f"NOT IMPORTABLE ({type(error).__name__}: {error})"
    return str(getattr(module, "__version__", "ok"))


def run(args: argparse.Namespace) -> int:
    from depth_completion_ros import __version__

    if args.node_docs is not None:
        return _node_docs(args.node_docs)

    print(f"depth_completion_ros {__version__} on Python {platform.python_version()} ({platform.machine()})")
    for name in ("numpy", "scipy", "cv2", "torch", "open3d", "rosbags", "rclpy"):
        print(f"  {name:10s} {_module_version(name)}")
    print(f"  libusb-1.0 {'found' if ctypes.util.find_library('usb-1.0') else 'MISSING: sudo apt-get install libusb-1.0-0'}")
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
        print(f"  device     {device}")
    except ImportError:
        pass
    transports = os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "")
    advice = "" if transports == "LARGE_DATA" else "  (set FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA for image/cloud topics)"
    print(f"  FASTDDS_BUILTIN_TRANSPORTS={transports or '<unset>'}{advice}")
    zombies = clean_zombie_shm() if args.clean_shm else zombie_shm_files()
    if args.clean_shm:
        print(f"  removed {len(zombies)} Fast DDS shared-memory files of dead processes from {SHM_DIR}")
    elif zombies:
        print(f"  {len(zombies)} Fast DDS shared-memory files of dead processes in {SHM_DIR} "
              "(they can stall new nodes; remove them with: dcr info --clean-shm)")
    return 0


def _node_docs(readme: Path) -> int:
    from depth_completion_ros.ros.node_docs import nodes_markdown, write_readme

    if str(readme) == "-":
        print(nodes_markdown())
        return 0
    try:
        changed = write_readme(readme)
    except (OSError, ValueError) as error:
        print(f"dcr info: error: {readme}: {error}", file=sys.stderr)
        return 2
    print(f"{readme}: node tables {'rewritten' if changed else 'already up to date'}")
    return 0
