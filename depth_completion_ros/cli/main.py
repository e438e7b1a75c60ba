"""``dcr``: the package's command-line tool.

Subcommands register themselves in :data:`SUBCOMMANDS` (name -> module path); each module
has ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when
their subcommand runs, so ``dcr --help`` stays fast and a broken optional dependency
breaks only the subcommand that needs it.

Exit codes, the same for every subcommand (:data:`EXIT_CODES`): 0 all done; 1 done with some
bad items (named, the rest written); 2 bad usage or input; 130 interrupted (Ctrl-C or
SIGTERM). Whatever a subcommand lets escape ends in one line on stderr, never a traceback: bad
input, an unreadable or unwritable file and a malformed YAML file exit 2; an unexpected
error (a bug) exits 3 and names a log file holding its traceback (``--debug`` prints it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import yaml

from depth_completion_ros.cli.exits import (
    EXIT_BUG,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    is_interruption,
)
from depth_completion_ros.errors import BadInputError

ERROR_LOG = Path(tempfile.gettempdir()) / "dcr-last-error.log"

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("depth_completion_ros.cli.info", "show versions, the compute device and the environment checks"),
    "run": ("depth_completion_ros.cli.run", "start the configured nodes in one process (no ros2 launch needed)"),
    "replay": ("depth_completion_ros.cli.replay", "publish a bag into live ROS 2 topics, optionally recording outputs"),
    "eval": ("depth_completion_ros.cli.eval_bag", "evaluate depth on recorded bags (offline or live) and write a report"),
    "convert": ("depth_completion_ros.cli.convert", "convert KITTI raw / odometry (+SemanticKITTI) or nuScenes to an MCAP bag"),
    "demo": ("depth_completion_ros.cli.demo", "run the end-to-end demo on generated data (no robot, no downloads)"),
    "complete": ("depth_completion_ros.cli.complete", "dense depth for a folder in the KITTI depth-completion layout"),
    "evaluate": ("depth_completion_ros.cli.evaluate", "KITTI depth metrics of predicted depth PNGs against ground truth"),
    "sim": ("depth_completion_ros.cli.sim", "generate a simulated sensor sequence (MCAP bag or KITTI folders)"),
    "train": ("depth_completion_ros.cli.train", "build training caches; train the completion or occupancy network"),
    "occupancy": ("depth_completion_ros.cli.occupancy", "voxel occupancy (.bin) from KITTI odometry stereo or LiDAR"),
    "export": ("depth_completion_ros.cli.export", "export the learned completion network (ONNX for onnxruntime)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcr",
        description="depth_completion_ros: depth completion and stereo occupancy tools.",
        epilog="Run 'dcr COMMAND --help' for the options of one command. Exit codes: "
               + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + ".",
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def _interrupt_on_sigterm(signum: int, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a command as Ctrl-C does: through its clean-up


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; map what escapes it to one stderr line and an exit code."""
    prog = f"dcr {args.command}"
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except BadInputError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # unreadable input, unwritable output, an output path that is a file
        where = f" '{error.filename}'" if getattr(error, "filename", None) else ""
        print(f"{prog}: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except yaml.YAMLError as error:
        print(f"{prog}: malformed YAML: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as error:
        if is_interruption(error):
            print(f"{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if isinstance(error, SystemExit):
            raise
        if args.debug:
            traceback.print_exc()
        else:
            ERROR_LOG.write_text(f"dcr {' '.join(sys.argv[1:])}\n{traceback.format_exc()}")
            print(f"{prog}: unexpected error (a bug, please report it): {error!r}; "
                  f"traceback in {ERROR_LOG} (or rerun with 'dcr --debug ...')", file=sys.stderr)
        return EXIT_BUG


def main(argv: list[str] | None = None) -> int:
    # Every process dcr starts talks to the others with the transports large images and
    # clouds need (default Fast DDS transports lose UDP fragments; README "Large messages").
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    args = build_parser().parse_args(argv)
    if args.command == "run":  # 'dcr run' leaves SIGTERM to rclpy, which stops its nodes
        return run_command(args)
    previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        code = run_command(args)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code == EXIT_INTERRUPTED and argv is None and "rclpy" not in sys.modules:
        # The command has closed what it wrote. Leave now: interpreter finalization after a
        # KeyboardInterrupt sometimes ended the process with status -2 instead of 130 (about
        # 1 interrupted 'dcr sim' in 6; never with this exit). Not after ROS was used: Fast DDS
        # must run its own teardown, or it leaves shared-memory files that stall later nodes.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
