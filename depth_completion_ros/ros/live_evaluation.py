"""Evaluate depth completion live: the real node (``dcr run``) in another process, the bag
replayed into it over DDS, its outputs scored, its drops and latency measured.

Everything but the transport is :mod:`depth_completion_ros.eval.bag_evaluation`'s (options,
the node's parameters, ground truth, metrics), so offline and live evaluation agree.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import yaml

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.messages import image_to_depth
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.bag_evaluation import EvalOptions, node_input
from depth_completion_ros.eval.results import EvaluationResult
from depth_completion_ros.eval.visualize import depth_panel, save_rgb

NODE_START_TIMEOUT_S = 60.0  # the node's /depth publisher discovered (a cold start imports torch)
SUBSCRIBER_TIMEOUT_S = 30.0  # then its input subscriptions discovered
# A node that runs but is never discovered (a Fast DDS discovery stall: about one test run in
# six on this machine hit it once) is started again, with a new participant here.
DISCOVERY_ATTEMPTS = 2
PRIME_TIMEOUT_S = 30.0  # the primed frame's answer; the first one pays imports and DDS set-up
OUTPUT_QUIET_S = 6.0  # after the replay, outputs still count until this long without one
NODE_DIAGNOSTICS = "/depth_completion/diagnostics"  # the node started by ``dcr run`` publishes them at 1 Hz
DIAGNOSTICS_WAIT_S = 3.0  # after the outputs, wait this long at most for a fresh diagnostics message


def evaluate_live(bag_path: str | Path, options: EvalOptions, out_dir: Path, rate: float = 1.0,
                  pictures_dir: Path | None = None) -> EvaluationResult:
    """Replay one bag through the real node (``dcr run``) over DDS and score its outputs.

    One node run per method. Drops are sweeps (LiDAR, or images on a radar-camera rig) without an output; the node's own
    drop counters by reason (from its last diagnostics) go to ``result.node_drops``.
    Latency is the time from publishing the image to receiving its depth. The node's
    ``/depth`` and ``/depth/camera_info`` are recorded into ``out_dir/outputs_<method>`` (MCAP).
    """
    from depth_completion_ros.ros.diagnostics import diagnostic_values, drop_counts

    result = EvaluationResult("live", bags=[str(bag_path)])
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        bag = Bag(bag_path)
    except BadInputError as error:
        result.add_problem(str(error))
        return result
    with bag:
        if bag.truncated:
            result.add_problem(bag.truncation_note)
        try:
            bag.require((o for o in (*options.input_topics, options.gt_depth) if o), options.topic_types)
        except BadInputError as error:
            result.add_problem(str(error))
            return result
        for method in options.methods:
            for attempt in range(1, DISCOVERY_ATTEMPTS + 1):
                received: dict[int, tuple[object, int]] = {}
                published_at: dict[int, int] = {}
                diagnostics: deque = deque(maxlen=1)  # (monotonic s, the latest DiagnosticArray)
                try:
                    _run_node(bag, options, method, out_dir, rate, received, published_at, diagnostics)
                except NodeNotDiscovered as error:
                    if attempt < DISCOVERY_ATTEMPTS:
                        print(f"warning: {error}; starting the node again", file=sys.stderr, flush=True)
                        continue
                    result.add_problem(str(error))
                except (RuntimeError, BadInputError) as error:
                    result.add_problem(str(error))
                break
            if diagnostics:
                result.node_drops[method] = drop_counts(diagnostic_values(diagnostics[-1][1]))
            _score_live(bag, options, method, received, published_at, result, pictures_dir)
    return result


class NodeNotDiscovered(RuntimeError):
    """The node process runs, but it and this process did not discover each other over DDS."""


def _run_node(bag: Bag, options: EvalOptions, method: str, out_dir: Path, rate: float,
              received: dict[int, tuple[object, int]], published_at: dict[int, int], diagnostics: deque) -> None:
    """Start the node for ``method``, replay the bag into it and collect what it answers.

    Fills ``received`` (image stamp ns -> (depth message, receive time ns)), ``published_at``
    (image stamp ns -> publish time ns) and ``diagnostics`` (the node's latest (monotonic s,
    DiagnosticArray)) as it goes, so a failure part-way keeps what was collected. The node is
    stopped before returning. Raises :class:`NodeNotDiscovered` when the node runs but was not
    discovered, RuntimeError or BadInputError on other failures.
    """
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from depth_completion_ros.ros.replay import REPLAY_QOS, BagReplayer, TopicRecorder
    from depth_completion_ros.ros.stamps import stamp_to_ns

    config = _live_config(bag, options, method, out_dir)
    log_path = out_dir / f"node_{method}.log"
    remaps = {"image": options.image, "camera_info": options.camera_info}
    if options.lidar:
        remaps["lidar/points"] = options.lidar
    if options.radar:
        remaps["radar/points"] = options.radar
    command = [sys.executable, "-m", "depth_completion_ros.cli.main", "run", "--config", str(config)]
    for name, topic in remaps.items():
        command += ["--remap", f"{name}:={topic}"]
    with open(log_path, "w") as log:
        node = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context)
    listener = None
    try:
        listener = rclpy.create_node("dcr_eval_live", context=context)
        depth_sub = listener.create_subscription(
            Image, "/depth", lambda m: received.setdefault(stamp_to_ns(m.header.stamp), (m, time.time_ns())),
            REPLAY_QOS)
        listener.create_subscription(DiagnosticArray, NODE_DIAGNOSTICS,
                                     lambda m: diagnostics.append((time.monotonic(), m)), 10)
        replayer = BagReplayer(listener, bag, options.input_topics, rate=rate, publish_clock=False)
        recording = out_dir / f"outputs_{method}"
        if recording.exists():
            shutil.rmtree(recording)
        recorder = TopicRecorder(listener, recording, {"/depth": "sensor_msgs/msg/Image",
                                                       "/depth/camera_info": "sensor_msgs/msg/CameraInfo"})
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(listener)
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while depth_sub.get_publisher_count() == 0 and time.monotonic() < deadline and node.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        subscribed = node.poll() is None and replayer.wait_for_subscribers(options.input_topics[:3],
                                                                           timeout_s=SUBSCRIBER_TIMEOUT_S)
        if node.poll() is not None:
            raise RuntimeError(f"the node exited with code {node.returncode} before it came up; see {log_path}")
        if not subscribed:
            raise NodeNotDiscovered(f"the node did not come up: not discovered over DDS in "
                                    f"{NODE_START_TIMEOUT_S + SUBSCRIBER_TIMEOUT_S:.0f} s; see {log_path}")
        recorder.paused = True  # the primed first frame is neither recorded nor scored
        replayer.prime()
        deadline = time.monotonic() + PRIME_TIMEOUT_S
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        received.clear()
        recorder.paused = False
        # spin in the background while replaying, so outputs are timed when they arrive
        stop = threading.Event()
        spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02)
                                                   for _ in iter(stop.is_set, True)], daemon=True)
        spinner.start()
        replayer.play(on_publish=lambda m, t: published_at.__setitem__(m.stamp_ns, t)
                      if m.topic == options.image else None)
        replayer.flush()
        _wait_for_outputs(received, expected=min(len(published_at), _count(bag, options.pivot)))
        _wait_for_diagnostics(diagnostics)
        stop.set()
        spinner.join(5)
        recorder.close()
    finally:
        # the node stops before our endpoints go: tearing down a reader or writer
        # while its remote peer is still active has deadlocked in Fast DDS
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.kill()
        if listener is not None:
            listener.destroy_node()
        rclpy.shutdown(context=context)


def _count(bag: Bag, topic: str) -> int:
    """How many messages the bag holds on ``topic``."""
    return sum(1 for _ in bag.messages([topic], deserialize=False))


def _wait_for_outputs(received: dict, expected: int, quiet_s: float = OUTPUT_QUIET_S) -> None:
    """Block until ``expected`` outputs arrived or none arrived for ``quiet_s`` seconds.

    ``received`` is filled by the spinning executor thread. A fixed wait lost the last
    frames whenever a reliable sample waited for a DDS retransmission (Fast DDS
    heartbeats every ~3 s); a node that really dropped frames costs ``quiet_s`` once.
    """
    count, last_change = len(received), time.monotonic()
    while len(received) < expected and time.monotonic() - last_change < quiet_s:
        time.sleep(0.05)
        if len(received) != count:
            count, last_change = len(received), time.monotonic()


def _wait_for_diagnostics(diagnostics: deque, timeout_s: float = DIAGNOSTICS_WAIT_S) -> None:
    """Block until ``diagnostics`` (filled by the spinning executor thread with
    (time.monotonic() s, message)) holds a message received after this call began, so its
    counters cover every set the node took in; at most ``timeout_s`` seconds."""
    since = time.monotonic()
    while not (diagnostics and diagnostics[-1][0] > since) and time.monotonic() < since + timeout_s:
        time.sleep(0.05)


def _live_config(bag: Bag, options: EvalOptions, method: str, out_dir: Path) -> Path:
    """A parameters file for the node: the user's parameters, the method, reliable input
    (the replayer publishes reliably) and the bag's static extrinsics."""
    params: dict = {}
    for key, value in {**options.node_params, "method": method, "input_qos": "reliable",
                       "use_lidar": options.params["use_lidar"], "use_radar": bool(options.radar)}.items():
        node = params
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    frames = _sensor_frames(bag, options)
    tree = bag.static_transforms()
    for sensor, (camera_frame, sensor_frame) in frames.items():
        try:
            T = tree.lookup(camera_frame, sensor_frame)
        except BadInputError:
            continue  # the user's --config must then give it
        params.setdefault(f"{sensor}_to_camera", {})["matrix"] = [float(v) for v in T.ravel()]
    path = out_dir / f"live_{method}.yaml"
    path.write_text(yaml.safe_dump({"depth_completion": {"ros__parameters": params}}))
    return path


def _sensor_frames(bag: Bag, options: EvalOptions) -> dict[str, tuple[str, str]]:
    """sensor -> (camera frame id, sensor frame id), read from the first messages."""
    first: dict[str, str] = {}
    topics = {topic: sensor for topic, sensor in ((options.image, "camera"), (options.lidar, "lidar"),
                                                  (options.radar, "radar")) if topic}
    for message in bag.messages(list(topics)):
        first.setdefault(topics[message.topic], message.frame_id)
        if len(first) == len(topics):
            break
    camera = first.get("camera", "")
    return {sensor: (camera, frame) for sensor, frame in first.items() if sensor != "camera"}


def _score_live(bag: Bag, options: EvalOptions, method: str, received: dict, published_at: dict,
                result: EvaluationResult, pictures_dir: Path | None) -> None:
    """Score the received outputs against the bag's ground truth, by image stamp."""
    sweeps = _count(bag, options.pivot)
    result.sweeps += sweeps
    result.count_drop(f"not_received_{method}", max(0, sweeps - len(received)))
    gts = {}
    if options.gt_depth:
        gts = {m.stamp_ns: m.msg for m in bag.messages([options.gt_depth]) if m.stamp_ns in received}
    for stamp in sorted(received):
        msg, received_ns = received[stamp]
        depth = image_to_depth(msg)
        gt = image_to_depth(gts[stamp]) if stamp in gts else None
        latency = (received_ns - published_at[stamp]) / 1e6 if stamp in published_at else None
        result.score(str(bag.path), stamp, method, depth, gt, latency_ms=latency)
        if pictures_dir is not None and f"depth_{method}" not in result.pictures:
            try:
                rgb, sparse = node_input(bag, options, stamp)
            except BadInputError as error:
                result.add_problem(f"{bag.path.name}: depth picture: {error}")
            else:
                panel = depth_panel(rgb, sparse, depth, gt)
                result.pictures[f"depth_{method}"] = str(save_rgb(pictures_dir / f"depth_{method}.png", panel))
