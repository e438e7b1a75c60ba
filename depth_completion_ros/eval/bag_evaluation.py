"""Evaluate depth completion (and stereo occupancy) on recorded bags, in this process, without ROS.

The same pieces as the node: the synchronizer policy
(:class:`~depth_completion_ros.pipeline.sync.ApproximateSync` with the node's parameters,
:mod:`~depth_completion_ros.pipeline.node_config`), the message conversion
(:func:`~depth_completion_ros.pipeline.message_frames.depth_frame_from_messages`), the
pipeline (:func:`~depth_completion_ros.pipeline.depth_frame.complete_frame`) and the metrics
(:class:`~depth_completion_ros.eval.results.EvaluationResult`). Bags are read with rosbags
and the messages converted by :mod:`~depth_completion_ros.datasets.messages`, so no ROS
package is needed: deterministic, and as fast as the device allows. The live harness (the
real node over DDS) is :mod:`depth_completion_ros.ros.live_evaluation`.

Ground truth: a depth-image topic (``gt_depth``), or LiDAR rings held out of the input
(``holdout_every=K`` keeps every K-th ring as input and scores on the rest), or none
(timing, drops and coverage only).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from depth_completion_ros.config_files import load_yaml, ros_parameters
from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.messages import (
    camera_info_to_model,
    image_to_depth,
    image_to_rgb,
    pointcloud2_to_array,
)
from depth_completion_ros.datasets.ring_protocol import split_input_and_ground_truth
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.eval.occupancy import ground_truth_from_cloud, predicted_labels
from depth_completion_ros.eval.results import EvaluationResult
from depth_completion_ros.eval.visualize import depth_panel, occupancy_bev, save_rgb
from depth_completion_ros.geometry.voxels import VoxelGrid
from depth_completion_ros.pipeline.depth_frame import DepthFrame, complete_frame, lidar_depth
from depth_completion_ros.pipeline.engine import CompletionEngine
from depth_completion_ros.pipeline.message_frames import (
    DEFAULT_RADAR_FIELDS,
    ExtrinsicsLookup,
    depth_frame_from_messages,
)
from depth_completion_ros.pipeline.node_config import (
    engine_arguments,
    camera_info_for_image,
    extrinsics_lookup,
    grid_from_params,
    sync_config,
    with_defaults,
)
from depth_completion_ros.pipeline.occupancy_methods import StereoFrame, create_occupancy_method
from depth_completion_ros.pipeline.sync import ApproximateSync, MatchedSet, SyncConfig

GT_WAIT_NS = 500_000_000  # how long (bag time) a set waits for its CameraInfo and ground truth


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how.

    Attributes:
        image, camera_info, lidar: input topics; radar: optional input topic.
        gt_depth: ground-truth depth image topic (32FC1 m or 16UC1 mm), or None.
        holdout_every: with no ``gt_depth``, keep LiDAR rings ``ring % K == 0`` as input
            and score on the held-out rest (needs a ``ring`` field); None = no GT.
        methods: completion methods to compare.
        node_params: the depth_completion node's parameters (from ``--config``).
        stereo_params: the stereo_occupancy node's (its extrinsic ``camera_to_grid``).
        max_frames: stop after this many synchronized frames (None = all).
    """

    image: str = "/camera/left/image_rect"
    camera_info: str = "/camera/left/camera_info"
    lidar: str = "/lidar/points"
    radar: str | None = None
    gt_depth: str | None = "/camera/left/depth/ground_truth"
    holdout_every: int | None = None
    methods: tuple[str, ...] = ("classical",)
    node_params: dict = field(default_factory=dict)
    stereo_params: dict = field(default_factory=dict)
    max_frames: int | None = None
    gt_occupancy: str | None = None
    right_image: str = "/camera/right/image_rect"
    right_camera_info: str = "/camera/right/camera_info"
    occupancy_methods: tuple[str, ...] = ("sgbm",)
    grid: VoxelGrid | None = None

    @property
    def input_topics(self) -> list[str]:
        return [t for t in (self.image, self.camera_info, self.lidar, self.radar) if t]

    @property
    def topic_types(self) -> dict[str, str]:
        """The message type each configured topic must carry."""
        image, info, cloud = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/PointCloud2"
        types = {self.image: image, self.camera_info: info, self.lidar: cloud, self.radar: cloud,
                 self.gt_depth: image, self.right_image: image, self.right_camera_info: info,
                 self.gt_occupancy: cloud}
        return {topic: kind for topic, kind in types.items() if topic}

    @property
    def occupancy_topics(self) -> list[str]:
        """Extra topics the occupancy evaluation reads (none without ``gt_occupancy``)."""
        return [self.right_image, self.right_camera_info, self.gt_occupancy] if self.gt_occupancy else []

    def param(self, name: str, default):
        return self.node_params.get(name, default)

    @property
    def params(self) -> dict:
        """The node's parameters with their defaults (:func:`~.node_config.with_defaults`), its
        inputs switched by the topics given: no LiDAR topic (or ``use_lidar: false``) is a
        radar-camera rig, one frame per image."""
        return {**with_defaults(self.node_params), "use_lidar": self.lidar is not None and
                bool(self.node_params.get("use_lidar", True)), "use_radar": self.radar is not None}

    @property
    def pivot(self) -> str:
        """The topic every frame is built around: the LiDAR's, or the image's on a radar-camera rig."""
        return self.lidar if self.params["use_lidar"] else self.image

    @property
    def occlusion_window(self) -> int | None:
        """The node's occlusion filter window (pixels), None when off."""
        return int(self.param("occlusion_window", 0)) or None


EVALUATED_NODES = ("depth_completion", "stereo_occupancy")  # the nodes whose parameters an evaluation reads


def load_node_params(config: Path | None, node: str = "depth_completion") -> dict:
    """A node's ``ros__parameters`` from a parameters file, flattened to dotted names.

    Raises:
        BadInputError: the file is not a parameters file of an evaluated node (it has neither
            a ``depth_completion`` nor a ``stereo_occupancy`` section, so nothing in it would apply).
    """
    if config is None:
        return {}
    document = load_yaml(config, "ROS 2 parameters file")
    if not any(name in document or f"/{name}" in document for name in EVALUATED_NODES):
        raise BadInputError(str(config), f"has no {' or '.join(EVALUATED_NODES)} section, so none of it would apply; "
                                         "a parameters file reads 'depth_completion: ros__parameters: {...}' "
                                         "(see config/depth_completion.yaml)")
    params = ros_parameters(document, config, node)
    flat = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}{key}.", sub)
        else:
            flat[prefix[:-1]] = value

    walk("", params)
    return flat


def load_grid(config: Path | None) -> VoxelGrid | None:
    """The stereo_occupancy node's voxel grid from a parameters file (as the node builds it),
    None when the file has no stereo_occupancy section."""
    params = load_node_params(config, "stereo_occupancy")
    return grid_from_params(params) if params else None


def bag_extrinsics(bag: Bag, params: dict, node: str = "depth_completion") -> ExtrinsicsLookup:
    """A node's extrinsics as the node finds them: the bag's ``/tf_static`` in place of TF,
    then the node's parameters (:func:`~depth_completion_ros.pipeline.node_config.extrinsics_lookup`)."""
    tree = bag.static_transforms()

    def from_tree(target_frame: str, source_frame: str) -> np.ndarray | None:
        try:
            return tree.lookup(target_frame, source_frame)
        except BadInputError:
            return None

    return extrinsics_lookup(params, node, from_tree)


def _holdout_split(frame: DepthFrame, lidar_msg, every: int) -> tuple[DepthFrame, np.ndarray]:
    """Keep rings ``ring % every == 0`` as input; ground truth = the other rings, occlusion-filtered."""
    cloud = pointcloud2_to_array(lidar_msg, skip_nonfinite=True)
    if "ring" not in (cloud.dtype.names or ()):
        raise BadInputError("PointCloud2.fields", "held-out ground truth needs a 'ring' field in the LiDAR cloud")
    keep = cloud["ring"].astype(np.int64) % every == 0
    _, gt = split_input_and_ground_truth(frame.lidar_points, frame.camera, frame.T_camera_lidar, keep)
    return replace(frame, lidar_points=frame.lidar_points[keep]), gt


class _OfflineRun:
    """State of one offline pass over one bag."""

    def __init__(self, bag: Bag, options: EvalOptions, result: EvaluationResult, pictures_dir: Path | None) -> None:
        self.bag, self.options, self.result = bag, options, result
        self.pictures_dir = pictures_dir
        self.lookup = bag_extrinsics(bag, options.node_params)
        device = str(options.param("device", "auto"))
        self.engines = {m: CompletionEngine(**engine_arguments(options.params, m)) for m in options.methods}
        self.sync = ApproximateSync(sync_config(options.params))
        self.infos: deque = deque(maxlen=50)
        self.right_infos: deque = deque(maxlen=50)
        self.gts: dict[int, object] = {}
        self.pending: deque[MatchedSet] = deque()
        self.frames = 0
        self.occupancy = _OccupancyRun(bag, options, result, pictures_dir, device) if options.gt_occupancy else None

    def feed(self, topic: str, stamp_ns: int, msg) -> None:
        o = self.options
        if self.occupancy is not None and topic in (o.image, o.right_image, o.gt_occupancy, o.right_camera_info):
            self.occupancy.feed(topic, stamp_ns, msg, self.infos, self.right_infos)
            if topic != o.image:
                return
        if topic == o.camera_info:
            self.infos.append(msg)
        elif topic == o.gt_depth:
            self.gts[stamp_ns] = msg
        else:
            name = {o.image: "image", o.lidar: "lidar", o.radar: "radar"}[topic]
            self.result.sweeps += topic == o.pivot
            self.pending.extend(self.sync.add(name, stamp_ns, msg))

    def flush(self, now_ns: int | None) -> None:
        """Process sets whose CameraInfo and ground truth are in (or can no longer come)."""
        if self.occupancy is not None:
            if now_ns is None:
                self.occupancy.pending.extend(self.occupancy.sync.drain())
            self.occupancy.flush(now_ns)
        while self.pending and (self.options.max_frames is None or self.frames < self.options.max_frames):
            matched = self.pending[0]
            image = matched.messages["image"].payload
            image_stamp = matched.messages["image"].stamp_ns
            waiting = (self.options.gt_depth and image_stamp not in self.gts) or not any(
                info.header.stamp == image.header.stamp for info in self.infos)
            if now_ns is not None and waiting and now_ns < image_stamp + GT_WAIT_NS:
                return
            self.pending.popleft()
            self._process(matched)
        if self.options.max_frames is not None and self.frames >= self.options.max_frames:
            self.pending.clear()

    def _process(self, matched: MatchedSet) -> None:
        image = matched.messages["image"]
        o = self.options
        try:
            frame, gt = depth_frame_of_set(matched, self.infos, self.lookup, o), None
            if o.gt_depth:
                gt_msg = self.gts.pop(image.stamp_ns, None)
                gt = None if gt_msg is None else image_to_depth(gt_msg)
            elif o.holdout_every:
                frame, gt = _holdout_split(frame, matched.messages["lidar"].payload, o.holdout_every)
        except BadInputError as error:
            self.result.count_drop("bad_input")
            self.result.add_problem(f"{self.bag.path.name}: {error}")
            return
        if o.gt_depth and gt is None:
            self.result.count_drop("no_ground_truth")
        self.frames += 1
        for method, engine in self.engines.items():
            start = time.perf_counter()
            output = complete_frame(engine, frame, o.occlusion_window)
            elapsed_ms = (time.perf_counter() - start) * 1e3
            self.result.score(str(self.bag.path), image.stamp_ns, method, output.result.depth, gt,
                              inference_ms=elapsed_ms)
            if self.pictures_dir is not None and f"depth_{method}" not in self.result.pictures:
                panel = depth_panel(frame.rgb, output.sparse, output.result.depth, gt)
                self.result.pictures[f"depth_{method}"] = str(save_rgb(self.pictures_dir / f"depth_{method}.png", panel))


class _OccupancyRun:
    """Occupancy methods on the bag's stereo pairs, scored against its occupancy GT cloud."""

    def __init__(self, bag: Bag, options: EvalOptions, result: EvaluationResult, pictures_dir: Path | None,
                 device: str) -> None:
        self.bag, self.options, self.result, self.pictures_dir = bag, options, result, pictures_dir
        self.lookup = bag_extrinsics(bag, options.stereo_params, "stereo_occupancy")
        self.methods = {m: create_occupancy_method(m, device=device) for m in options.occupancy_methods}
        self.sync = ApproximateSync(SyncConfig(pivot="gt", required=("left", "right"),
                                               slop_ns=int(float(options.param("slop", 0.05)) * 1e9)))
        self.pending: deque[MatchedSet] = deque()
        self.left_infos: deque = deque()
        self.right_infos: deque = deque()

    def feed(self, topic: str, stamp_ns: int, msg, left_infos, right_infos) -> None:
        o = self.options
        self.left_infos, self.right_infos = left_infos, right_infos
        if topic == o.right_camera_info:
            right_infos.append(msg)
            return
        name = {o.image: "left", o.right_image: "right", o.gt_occupancy: "gt"}[topic]
        self.pending.extend(self.sync.add(name, stamp_ns, msg))

    def flush(self, now_ns: int | None) -> None:
        """Score the sets whose two CameraInfos are in (or can no longer come)."""
        while self.pending:
            matched = self.pending[0]
            left, right = matched.messages["left"], matched.messages["right"]
            ready = all(any(i.header.stamp == m.payload.header.stamp for i in infos)
                        for m, infos in ((left, self.left_infos), (right, self.right_infos)))
            if not ready and now_ns is not None and now_ns < max(left.stamp_ns, right.stamp_ns) + GT_WAIT_NS:
                return
            self.pending.popleft()
            try:
                self._score(matched, self.left_infos, self.right_infos)
            except BadInputError as error:
                self.result.count_drop("bad_occupancy_input")
                self.result.add_problem(f"{self.bag.path.name}: occupancy: {error}")

    def _score(self, matched: MatchedSet, left_infos, right_infos) -> None:
        left, right, gt = (matched.messages[k].payload for k in ("left", "right", "gt"))
        cloud = pointcloud2_to_array(gt, skip_nonfinite=True)
        grid = self.options.grid or VoxelGrid(frame_id=gt.header.frame_id)
        T_grid_camera = self.lookup("camera", gt.header.frame_id, left.header.frame_id)
        frame = StereoFrame(image_to_rgb(left), image_to_rgb(right),
                            camera_info_to_model(camera_info_for_image(left_infos, left)[0]),
                            camera_info_to_model(camera_info_for_image(right_infos, right)[0]), T_grid_camera)
        target, invalid = ground_truth_from_cloud(cloud, grid)
        for name, method in self.methods.items():
            start = time.perf_counter()
            predicted = predicted_labels(method(frame, grid))
            self.result.score_occupancy(name, predicted, target, invalid, (time.perf_counter() - start) * 1e3)
            key = f"occupancy_bev_{name}"
            if self.pictures_dir is not None and key not in self.result.pictures:
                self.result.pictures[key] = str(save_rgb(self.pictures_dir / f"{key}.png",
                                                         occupancy_bev(predicted, target, invalid)))


def depth_frame_of_set(matched: MatchedSet, infos, lookup, options: EvalOptions) -> DepthFrame:
    """One synchronized set converted as the node converts it, with the CameraInfo of its
    image's stamp from ``infos`` (raises BadInputError on bad input)."""
    image = matched.messages["image"].payload
    return depth_frame_from_messages(
        image, camera_info_for_image(infos, image)[0],
        matched.messages["lidar"].payload if "lidar" in matched.messages else None, lookup,
        radar=matched.messages["radar"].payload if "radar" in matched.messages else None,
        rectified=bool(options.param("image_is_rectified", True)),
        radar_fields=options.param("radar_fields", DEFAULT_RADAR_FIELDS),
    ).frame


def evaluate_offline(bag_path: str | Path, options: EvalOptions, pictures_dir: Path | None = None) -> EvaluationResult:
    """Run the pipeline in-process on every synchronized frame of one bag.

    Errors in the bag (corrupt, truncated, missing topics) are recorded in
    ``result.problems``; frames evaluated before the damage are kept.
    """
    result = EvaluationResult("offline", bags=[str(bag_path)])
    try:
        with Bag(bag_path) as bag:
            if bag.truncated:
                result.add_problem(bag.truncation_note)
            bag.require((o for o in (*options.input_topics, options.gt_depth, *options.occupancy_topics) if o),
                        options.topic_types)
            run = _OfflineRun(bag, options, result, pictures_dir)
            topics = [*options.input_topics, *([options.gt_depth] if options.gt_depth else []), *options.occupancy_topics]
            pivot = options.pivot
            pivots_total = bag.topics[pivot][1]
            progress = tqdm(total=pivots_total, desc=f"{bag.path.name} (offline)", unit="sweep",
                            leave=False, disable=None)
            pivots_read = 0
            try:
                for message in bag.messages(topics):
                    pivots_read += message.topic == pivot
                    progress.update(message.topic == pivot)
                    run.feed(message.topic, message.stamp_ns, message.msg)
                    run.flush(message.log_time_ns)
                    if options.max_frames is not None and run.frames >= options.max_frames:
                        break
            except KeyboardInterrupt:
                # Ctrl-C: the sets already matched are still scored below, then the caller stops
                result.interrupted = f"{bag.path.name} after {pivots_read} of {pivots_total} frame(s)"
            finally:
                progress.close()
                run.pending.extend(run.sync.drain())
                run.flush(None)
                for reason, count in run.sync.stats()["drops"].items():
                    result.count_drop(f"sync_{reason}", count)
    except BadInputError as error:
        result.add_problem(str(error))
    return result


def bag_sets(bag: Bag, options: EvalOptions) -> Iterator[MatchedSet]:
    """The bag's image + LiDAR (+ radar) sets in bag order, matched by the node's
    synchronizer policy."""
    sync = ApproximateSync(sync_config(options.params))
    names = {options.image: "image", options.lidar: "lidar", options.radar: "radar"}
    for message in bag.messages([topic for topic in names if topic]):
        yield from sync.add(names[message.topic], message.stamp_ns, message.msg)
    yield from sync.drain()


def node_input(bag: Bag, options: EvalOptions, image_stamp_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The RGB image and the projected LiDAR depth (metres, 0 = none) the node completed for
    the image with this stamp (ns), rebuilt from the bag with the node's parameters.

    Raises:
        BadInputError: no set in the bag has this image stamp, or its messages do not convert.
    """
    matched = next((m for m in bag_sets(bag, options) if m.messages["image"].stamp_ns == image_stamp_ns), None)
    if matched is None:
        raise BadInputError("image", f"no synchronized set in the bag has its image stamped {image_stamp_ns} ns")
    infos = [m.msg for m in bag.messages([options.camera_info])]
    frame = depth_frame_of_set(matched, infos, bag_extrinsics(bag, options.node_params), options)
    sparse = lidar_depth(frame, float(options.params["min_depth"]), float(options.params["max_depth"]),
                         options.occlusion_window)
    return frame.rgb, sparse
