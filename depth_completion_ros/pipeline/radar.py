"""The ``radar`` completion method: camera + radar -> dense metric depth (Sparse Beats Dense).

Per frame: the image is resized to the network's working resolution (method parameter
``working_scale``, default 0.5: a 1600x900 nuScenes image runs at 800x448, the resolution
the shipped model was trained at), the radar points (the engine's ``radar`` argument,
(M, 3+) float32 with x, y, z in the camera optical frame, then rcs, vx, vy; see
:mod:`~depth_completion_ros.models.radar_input`) become the network's radar inputs for
that resized camera, and the output depth is resized back (nearest neighbour, so no depth
is mixed across an edge).

Without radar in view (late, missing or all outside the image), ``without_radar`` decides:

* ``camera`` (default): the network runs with an empty radar input and the fixed scale
  the model was trained with for that case (camera-only depth; less accurate);
* ``lidar``: the classical fill of the LiDAR points when there are any (camera + LiDAR),
  else as ``camera``.

Input-consistency guard, as the ``learned`` method's: the output must agree with the radar
depths it was given, at their own pixels. The median relative disagreement ``d`` there is
0.19-0.40 on the simulator's 12 validation frames and 0.18-0.48 on 120 training frames
(radar elevation noise puts a return on a pixel of another surface), so the guard starts
above that: the network keeps weight
``clip((high - d) / (high - low), 0, 1)`` against its own radar prior (the geometric
baseline's road-cut columns), ``disagreement_low`` = 0.6, ``disagreement_high`` = 0.9
(method parameters). A scene unlike the simulator's (a building facade filling a nuScenes
back camera: the network put it at twice the radar's 8 m, d = 1.0) then falls back to what
the radar says instead of contradicting it.

Counted in :attr:`RadarCompletion.counts` (``radar_frames``, ``camera_only_frames``,
``lidar_frames``, ``prior_fallbacks``: a non-finite network output, answered with the
radar column prior, and ``distrusted_frames``: blended by the guard), and reported with the
runner's ``gpu_oom_fallbacks`` by :meth:`RadarCompletion.counters` (the node's diagnostics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.models.radar_input import (
    COLUMN_HALF_WIDTH_PX,
    check_radar,
    column_map,
    column_prior,
    ground_depth,
    radar_depth_image,
    radar_in_view,
    radar_network_inputs,
    road_cut,
)
from depth_completion_ros.pipeline.classical import ClassicalParams, classical_fill, completion_confidence
from depth_completion_ros.pipeline.engine import DepthResult, register_method
from depth_completion_ros.pipeline.learned import (
    WEIGHTS_DIR,
    disagreement_bounds,
    input_disagreement,
    network_trust,
    shipped_weights,
)

SHIPPED_RADAR = WEIGHTS_DIR / "radar_small.pt"
WITHOUT_RADAR_CHOICES = ("camera", "lidar")
_PARAMETERS = {"working_scale", "without_radar", "channels_last", "compile", "fp16", "camera_height", "pitch_deg",
               "disagreement_low", "disagreement_high"}
RADAR_DISAGREEMENT_LOW, RADAR_DISAGREEMENT_HIGH = 0.6, 0.9  # the guard (module docstring)
DEFAULT_CAMERA_HEIGHT_M = 1.51  # nuScenes CAM_FRONT above the road (config/rigs/nuscenes.yaml)
COUNTED = ("radar_frames", "camera_only_frames", "lidar_frames", "prior_fallbacks", "distrusted_frames")  # keys of RadarCompletion.counts


def working_size(camera: CameraModel, scale: float, stride: int) -> tuple[int, int]:
    """(width, height) of the network input: ``scale`` times the image, rounded to multiples of ``stride``."""
    cam = camera.image_model()
    return (max(stride, round(cam.width * scale / stride) * stride),
            max(stride, round(cam.height * scale / stride) * stride))


@dataclass
class RadarCompletion:
    """A :class:`~depth_completion_ros.pipeline.engine.CompletionMethod` around the radar network.

    Attributes:
        runner: a :class:`~depth_completion_ros.models.inference.TorchRunner` of a radar network.
        max_points: N of the network's radar point list.
        working_scale: network input size / image size.
        without_radar: ``camera`` or ``lidar`` (see the module docstring).
        road: (camera height m, pitch deg) for a network trained on the road-cut prior
            (its ``radar_road``; the method parameters ``camera_height`` / ``pitch_deg`` set
            them for another rig); None for one trained on the column prior.
        disagreement: ``(low, high)`` of the input-consistency guard (module docstring).
        stride: 1 (the method resizes to multiples of the network stride itself).
    """

    runner: object
    network_stride: int
    max_points: int
    working_scale: float = 0.5
    without_radar: str = "camera"
    road: tuple[float, float] | None = None
    disagreement: tuple[float, float] = (RADAR_DISAGREEMENT_LOW, RADAR_DISAGREEMENT_HIGH)
    stride: int = 1
    counts: Counter = field(default_factory=Counter)

    def complete(self, rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel,
                 radar: np.ndarray | None = None) -> DepthResult:
        if rgb is None:
            raise BadInputError("rgb", "the radar method needs the camera image")
        cam = camera.image_model()
        points = check_radar(radar)
        has_radar = radar_in_view(points, cam)[0].shape[0] > 0
        if not has_radar and self.without_radar == "lidar" and np.any(sparse > 0):
            self.counts["lidar_frames"] += 1
            prior = classical_fill(sparse, None, ClassicalParams())
            return DepthResult(prior, completion_confidence(prior, sparse > 0))
        self.counts["radar_frames" if has_radar else "camera_only_frames"] += 1
        width, height = working_size(cam, self.working_scale, self.network_stride)
        small_camera = cam.resized(width, height)
        small_rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        inputs = radar_network_inputs(points, small_camera, self.max_points, road=self.road)
        depth, confidence = self.runner(small_rgb, inputs.sparse, inputs.prior, inputs)
        if not np.all(np.isfinite(depth)):
            self.counts["prior_fallbacks"] += 1
            prior = cv2.resize(inputs.prior, (cam.width, cam.height), interpolation=cv2.INTER_NEAREST)
            return DepthResult(prior, np.zeros_like(prior), fallback=True)
        if has_radar:
            depth, confidence = self._guard(depth, confidence, inputs.sparse, inputs.prior)
        size = (cam.width, cam.height)
        return DepthResult(cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST),
                           cv2.resize(confidence, size, interpolation=cv2.INTER_LINEAR))

    def _guard(self, depth: np.ndarray, confidence: np.ndarray, radar_depth: np.ndarray, prior: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """The input-consistency guard on (h, w) working-resolution arrays (metres; radar depth 0 = none)."""
        trust = network_trust(input_disagreement(depth, radar_depth), *self.disagreement)
        if trust == 1.0:
            return depth, confidence
        self.counts["distrusted_frames"] += 1
        prior_confidence = completion_confidence(prior, radar_depth > 0)
        has_prior = prior > 0  # the network alone where the prior has nothing (no column, above the horizon)
        return (np.where(has_prior, trust * depth + (1 - trust) * prior, depth).astype(np.float32),
                np.where(has_prior, trust * confidence + (1 - trust) * prior_confidence, confidence).astype(np.float32))

    @property
    def device(self) -> str:
        """The device the network runs on now (the CPU after a CUDA out-of-memory move)."""
        return self.runner.device

    def counters(self) -> dict[str, int]:
        """Event totals for the engine's diagnostics (every key from the start, so a
        diagnostics consumer sees a stable set)."""
        return {**{kind: self.counts[kind] for kind in COUNTED}, "gpu_oom_fallbacks": self.runner.oom_fallbacks}


@register_method("radar", devices=("cpu", "cuda"), weights="optional", needs_lidar=False,
                 description="radar-camera network (Sparse Beats Dense; shipped weights by default)")
def _radar(device: str, weights: Path | None, params: Mapping[str, object]) -> RadarCompletion:
    from depth_completion_ros.models.checkpoint import load_model
    from depth_completion_ros.models.inference import TorchRunner

    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        raise BadInputError("method_params", f"unknown parameter(s) {unknown}; known: {sorted(_PARAMETERS)}")
    without_radar = str(params.get("without_radar", "camera"))
    if without_radar not in WITHOUT_RADAR_CHOICES:
        raise BadInputError("method_params", f"without_radar must be one of {WITHOUT_RADAR_CHOICES}, "
                                             f"got '{without_radar}'")
    working_scale = float(params.get("working_scale", 0.5))
    if not 0.05 <= working_scale <= 2.0:
        raise BadInputError("method_params", f"working_scale must be in [0.05, 2], got {working_scale}")
    path = Path(weights) if weights else shipped_weights(SHIPPED_RADAR)
    model, _ = load_model(path, "completion")
    if not model.config.radar_points:
        raise BadInputError(str(path), "not a radar network (no radar path); use method 'learned' for it")
    runner = TorchRunner(model, device, bool(params.get("channels_last", True)), bool(params.get("compile", False)),
                         fp16=bool(params.get("fp16", True)))
    trained_road = model.config.radar_road
    road = None if trained_road is None else road_geometry(params, *trained_road)
    return RadarCompletion(runner, model.stride, model.config.radar_points, working_scale, without_radar, road,
                           disagreement_bounds(params, RADAR_DISAGREEMENT_LOW, RADAR_DISAGREEMENT_HIGH))


def road_geometry(params: Mapping[str, object], height_m: float = DEFAULT_CAMERA_HEIGHT_M,
                  pitch_deg: float = 0.0) -> tuple[float, float]:
    """(camera height m, pitch deg) from the method parameters ``camera_height`` and
    ``pitch_deg`` (defaults: the given values), range-checked."""
    height = float(params.get("camera_height", height_m))
    if not 0.1 <= height <= 10.0:
        raise BadInputError("method_params", f"camera_height must be in [0.1, 10] m, got {height}")
    pitch = float(params.get("pitch_deg", pitch_deg))
    if not -30.0 <= pitch <= 30.0:
        raise BadInputError("method_params", f"pitch_deg must be in [-30, 30], got {pitch}")
    return height, pitch


@dataclass
class RadarGeometric:
    """The no-learning radar-camera baseline: each radar return's depth stretched over its
    image column (columns without a return take the nearest one's), cut where a flat road at
    the camera's height is nearer. Rows below the horizon without any radar in view get the
    road alone; above it they stay empty (0).

    Attributes:
        camera_height_m, pitch_deg: the camera above the road (from the rig's extrinsics).
        half_width: radar column half width, pixels at the image's resolution.
    """

    camera_height_m: float
    pitch_deg: float = 0.0
    half_width: int = COLUMN_HALF_WIDTH_PX
    stride: int = 1

    def complete(self, rgb: np.ndarray | None, sparse: np.ndarray, camera: CameraModel,
                 radar: np.ndarray | None = None) -> DepthResult:
        cam = camera.image_model()
        radar_depth = radar_depth_image(check_radar(radar), cam)
        columns = column_prior(column_map(radar_depth, self.half_width))
        depth = road_cut(columns, ground_depth(cam, self.camera_height_m, self.pitch_deg))
        return DepthResult(depth, completion_confidence(depth, radar_depth > 0))


@register_method("radar_geometric", devices=("cpu", "cuda"), needs_lidar=False, needs_rgb=False,
                 description="radar column depth cut by a flat road at the camera height (baseline, no learning)")
def _radar_geometric(device: str, weights: Path | None, params: Mapping[str, object]) -> RadarGeometric:
    known = {"camera_height", "pitch_deg", "column_half_width"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadInputError("method_params", f"unknown parameter(s) {unknown}; known: {sorted(known)}")
    return RadarGeometric(*road_geometry(params), int(params.get("column_half_width", COLUMN_HALF_WIDTH_PX)))
