"""The one place that turns the depth-completion node's parameters into its completion
engine and its synchronizer configuration (ROS-free).

The node (``ros/depth_completion_node.py``) and ``dcr eval`` both call :func:`engine_arguments`
and :func:`sync_config` on the node's flat parameter dictionary, so an offline evaluation
with a parameters file builds what the node builds from it (weights, depth range, precision,
method parameters, a radar-only rig). The defaults of these parameters are defined here once:
the node's parameter table takes them from :data:`NODE_DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from depth_completion_ros.pipeline.engine import DEFAULT_MAX_DEPTH, DEFAULT_METHOD, DEFAULT_MIN_DEPTH, available_methods
from depth_completion_ros.pipeline.sync import SyncConfig

NODE_DEFAULTS: dict[str, object] = {
    "method": DEFAULT_METHOD,
    "weights": "",
    "device": "auto",
    "backend": "auto",
    "precision": "auto",
    "min_depth": DEFAULT_MIN_DEPTH,
    "max_depth": DEFAULT_MAX_DEPTH,
    "without_radar": "camera",
    "camera_height": 0.0,
    "camera_pitch_deg": 0.0,
    "use_lidar": True,
    "use_radar": False,
    "slop": 0.05,
    "queue_size": 10,
}
NETWORK_METHODS = frozenset({"learned", "radar"})  # methods that take the precision setting


def with_defaults(params: Mapping[str, object]) -> dict[str, object]:
    """``params`` over :data:`NODE_DEFAULTS` (a parameters file sets only what differs)."""
    return {**NODE_DEFAULTS, **params}


def lidar_free_methods() -> list[str]:
    """Registered methods that give depth without LiDAR points (a radar-camera rig runs these)."""
    return sorted(name for name, spec in available_methods().items() if not spec.needs_lidar)


def method_params(params: Mapping[str, object]) -> dict[str, object]:
    """The engine's method parameters that node parameters set for ``params['method']``."""
    method = str(params["method"])
    values: dict[str, object] = {}
    if method in NETWORK_METHODS:
        values["fp16"] = params["precision"] != "fp32"
    if method == "learned":
        values["backend"] = params["backend"]
    if method == "radar":
        values["without_radar"] = params["without_radar"]
    if method in lidar_free_methods():  # radar methods cut their columns by the flat road
        if float(params["camera_height"]) > 0:
            values["camera_height"] = float(params["camera_height"])
        values["pitch_deg"] = float(params["camera_pitch_deg"])
    return values


def engine_arguments(params: Mapping[str, object], method: str | None = None) -> dict[str, object]:
    """Keyword arguments of :class:`~depth_completion_ros.pipeline.engine.CompletionEngine`
    for the node's parameters (``method`` replaces ``params['method']``: an evaluation
    compares several methods under one parameters file; the weights file then goes only to
    the configured method)."""
    configured = str(params["method"])
    method = configured if method is None else method
    chosen = {**params, "method": method}
    return {"method": method, "weights": (str(params["weights"]) or None) if method == configured else None,
            "device": str(params["device"]), "min_depth": float(params["min_depth"]),
            "max_depth": float(params["max_depth"]), "method_params": method_params(chosen)}


def sync_config(params: Mapping[str, object]) -> SyncConfig:
    """Sets built around each LiDAR sweep, or around each image without LiDAR (a radar-camera
    rig); radar is optional (without LiDAR a set waits for late radar until the next image)."""
    pivot, required = ("lidar", ("image",)) if params["use_lidar"] else ("image", ())
    optional = ("radar",) if params["use_radar"] else ()
    return SyncConfig(pivot=pivot, required=required, optional=optional,
                      awaited=() if params["use_lidar"] else optional,
                      slop_ns=int(float(params["slop"]) * 1e9), queue_size=int(params["queue_size"]))
