"""``dcr replay``: publish a bag into live ROS 2 topics (and optionally record outputs).

Stands in for ``ros2 bag play`` / ``ros2 bag record`` on machines without ros2cli. Messages
are forwarded as serialized CDR bytes; ``/clock`` is published for ``use_sim_time``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from depth_completion_ros.cli.exits import EXIT_INTERRUPTED, EXIT_PARTIAL, EXIT_USAGE
from depth_completion_ros.cli.paths import new_bag
from depth_completion_ros.errors import BadInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, metavar="BAG", help="bag directory or file (MCAP, sqlite3, ROS 1)")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor; 0 = as fast as possible (default: 1)")
    parser.add_argument("--loop", action="store_true", help="start again at the end (Ctrl-C stops)")
    parser.add_argument("--topics", nargs="+", default=None, help="topics to publish (default: all)")
    parser.add_argument("--record", type=new_bag, default=None, metavar="OUT",
                        help="record topics into this new MCAP bag while replaying")
    parser.add_argument("--record-topics", nargs="+", default=["/depth:sensor_msgs/msg/Image"],
                        metavar="TOPIC:TYPE", help="what --record records (default: %(default)s)")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument("--wait", type=float, default=0.0, metavar="S",
                        help="first wait up to S seconds until every replayed topic has a subscriber (default: 0)")


def _spin_until(executor, stop: threading.Event) -> None:
    """Spin ``executor`` until ``stop`` is set or rclpy shuts down (Ctrl-C: the context
    goes away under the spinning thread; that ends the spin, it is not an error)."""
    from rclpy.executors import ExternalShutdownException

    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        stop.set()


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from depth_completion_ros.datasets.bag import Bag
    from depth_completion_ros.ros.replay import BagReplayer, TopicRecorder

    try:
        bag = Bag(args.bag)
    except BadInputError as error:
        print(f"dcr replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    rclpy.init()
    node = rclpy.create_node("dcr_replay")
    recorder = None
    interrupted = False
    published = 0
    truncated: str | None = None
    stop = threading.Event()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=_spin_until, args=(executor, stop), daemon=True)
    try:
        replayer = BagReplayer(node, bag, args.topics, rate=args.rate, publish_clock=not args.no_clock)
        for topic in replayer.skipped:
            print(f"dcr replay: skipping {topic} ({bag.topics[topic][0]}: no Python message package here)")
        if not replayer.publishers:
            print(f"dcr replay: nothing to replay: every selected topic of {args.bag} was skipped", file=sys.stderr)
            return EXIT_USAGE
        if args.record:
            recorder = TopicRecorder(node, args.record, dict(t.rsplit(":", 1) for t in args.record_topics))
        spinner.start()
        if args.wait > 0 and not replayer.wait_for_subscribers(list(replayer.publishers), args.wait):
            print(f"dcr replay: some topics still have no subscriber after {args.wait:g} s; playing anyway")
        while True:
            count = replayer.play(stop=stop)
            published += count
            print(f"dcr replay: published {count} messages from {args.bag}")
            if not args.loop or stop.is_set() or count == 0:
                break
        truncated = bag.truncation_note if bag.truncated else None
    except (BadInputError, ValueError) as error:
        print(f"dcr replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, ExternalShutdownException):
        interrupted = True
    finally:
        stop.set()
        if spinner.is_alive():
            spinner.join(5)
        if recorder is not None:
            recorder.close()
            print(f"dcr replay: recorded {recorder.counts} into {args.record}")
        bag.close()
        node.destroy_node()
        rclpy.try_shutdown()
    if interrupted:
        print("dcr replay: interrupted" + (f"; {args.record} keeps what was recorded" if recorder else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if published == 0:
        print(f"dcr replay: nothing was replayed: {args.bag} has no message on the selected topics", file=sys.stderr)
        return EXIT_USAGE
    if truncated:
        print(f"dcr replay: {truncated.replace('were used', 'were replayed')}", file=sys.stderr)
        return EXIT_PARTIAL
    return 0
