"""Evaluation results of recordings: per-frame records, per-method metrics, timing, drops.

ROS-free and picklable, so results from parallel workers (Ray) merge into one report.
Offline and live evaluation fill the same structure through :meth:`EvaluationResult.score`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

from depth_completion_ros.datasets.semantic_kitti import SSCMetrics
from depth_completion_ros.eval.metrics import MetricAccumulator

PLOT_SAMPLES_PER_FRAME = 2000  # (gt, error) pairs kept per frame for the error-vs-range plot


@dataclass
class FrameRecord:
    """One scored (or timed) output frame."""

    bag: str
    stamp_ns: int
    method: str
    metrics: dict[str, dict] = field(default_factory=dict)  # range -> ImageMetrics.to_dict()
    output_coverage: float = 0.0  # fraction of pixels with a valid output depth
    inference_ms: float | None = None
    latency_ms: float | None = None


@dataclass
class MethodResult:
    """Everything measured for one method."""

    name: str
    accumulator: MetricAccumulator = field(default_factory=MetricAccumulator)
    records: list[FrameRecord] = field(default_factory=list)
    plot_gt: list[np.ndarray] = field(default_factory=list)
    plot_error: list[np.ndarray] = field(default_factory=list)

    def merge(self, other: MethodResult) -> None:
        for name, images in other.accumulator.per_image.items():
            self.accumulator.per_image.setdefault(name, []).extend(images)
        self.records += other.records
        self.plot_gt += other.plot_gt
        self.plot_error += other.plot_error


@dataclass
class EvaluationResult:
    """Results of one ``dcr eval`` call (one or several bags, one or several methods).

    Attributes:
        mode: ``offline`` or ``live``.
        drops: reason -> count (synchronizer drops, frames lost in transport, bad input).
        problem_counts: one-line description of what could not be evaluated (bad bags,
            bad frames, ...) -> how many times it happened.
        pictures: name -> PNG path, written by the caller.
        sweeps: sweeps seen in the bags, the denominator of drops: LiDAR sweeps, or images
            on a radar-camera rig (the messages every frame is built around).
        node_drops: live mode: method -> what the node itself counted as not used, by
            reason, from its diagnostics at the end of its runs (``too_old``,
            ``skipped_busy``, ``bad_input.<kind>``, ...; ``unused`` partner messages are
            expected, not lost sweeps), nonzero only.
        interrupted: set when Ctrl-C stopped a bag part-way: what the result covers of it
            (the frames scored before the interruption are kept).
    """

    mode: str
    bags: list[str] = field(default_factory=list)
    methods: dict[str, MethodResult] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    problem_counts: dict[str, int] = field(default_factory=dict)
    pictures: dict[str, str] = field(default_factory=dict)
    sweeps: int = 0
    has_ground_truth: bool = False
    occupancy: dict[str, SSCMetrics] = field(default_factory=dict)
    occupancy_ms: dict[str, list[float]] = field(default_factory=dict)
    node_drops: dict[str, dict[str, int]] = field(default_factory=dict)
    interrupted: str | None = None

    def score_occupancy(self, method: str, predicted: np.ndarray, target: np.ndarray, invalid: np.ndarray,
                        elapsed_ms: float) -> None:
        """Accumulate one occupancy frame (SemanticKITTI protocol counts)."""
        self.occupancy.setdefault(method, SSCMetrics()).add(predicted, target, invalid)
        self.occupancy_ms.setdefault(method, []).append(elapsed_ms)

    def method(self, name: str) -> MethodResult:
        return self.methods.setdefault(name, MethodResult(name))

    @property
    def problems(self) -> list[str]:
        """One line per distinct problem, with its count when it repeated."""
        return [text if n == 1 else f"{text} ({n} times)" for text, n in self.problem_counts.items()]

    def add_problem(self, text: str, count: int = 1) -> None:
        self.problem_counts[text] = self.problem_counts.get(text, 0) + count

    def count_drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.drops[reason] = self.drops.get(reason, 0) + count

    def score(self, bag: str, stamp_ns: int, method: str, depth: np.ndarray, gt: np.ndarray | None,
              inference_ms: float | None = None, latency_ms: float | None = None,
              rng: np.random.Generator | None = None) -> FrameRecord:
        """Record one output frame (depth in metres, 0 = none) against optional ground truth."""
        result = self.method(method)
        record = FrameRecord(bag, stamp_ns, method, output_coverage=float(np.mean(depth > 0)),
                             inference_ms=inference_ms, latency_ms=latency_ms)
        if gt is not None:
            self.has_ground_truth = True
            record.metrics = {name: m.to_dict() for name, m in result.accumulator.add(depth, gt).items()}
            scored = np.flatnonzero((gt > 0).ravel() & (depth > 0).ravel())
            if scored.size > PLOT_SAMPLES_PER_FRAME:
                scored = (rng or np.random.default_rng(stamp_ns % 2**32)).choice(scored, PLOT_SAMPLES_PER_FRAME,
                                                                                 replace=False)
            result.plot_gt.append(gt.ravel()[scored])
            result.plot_error.append(np.abs(depth.ravel()[scored] - gt.ravel()[scored]))
        result.records.append(record)
        return record

    def merge(self, other: EvaluationResult) -> None:
        """Fold another result (e.g. another bag from a worker) into this one."""
        self.bags += other.bags
        for name, method in other.methods.items():
            self.method(name).merge(method)
        for reason, count in other.drops.items():
            self.count_drop(reason, count)
        for method, counts in other.node_drops.items():
            mine = self.node_drops.setdefault(method, {})
            for reason, count in counts.items():
                mine[reason] = mine.get(reason, 0) + count
        for text, count in other.problem_counts.items():
            self.add_problem(text, count)
        for name, path in other.pictures.items():
            self.pictures.setdefault(name, path)
        self.sweeps += other.sweeps
        self.interrupted = other.interrupted or self.interrupted
        for name, metrics in other.occupancy.items():
            mine = self.occupancy.setdefault(name, SSCMetrics())
            mine.completion += metrics.completion
            mine.semantic += metrics.semantic
            self.occupancy_ms.setdefault(name, []).extend(other.occupancy_ms.get(name, []))
        self.has_ground_truth = self.has_ground_truth or other.has_ground_truth

    def timing(self, method: str) -> dict[str, float | None]:
        """Median / p95 of inference and latency (ms) of one method's frames."""
        records = self.methods[method].records
        out: dict[str, float | None] = {}
        for key in ("inference_ms", "latency_ms"):
            values = sorted(v for v in (getattr(r, key) for r in records) if v is not None)
            out[f"{key}_median"] = statistics.median(values) if values else None
            out[f"{key}_p95"] = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))] if values else None
        return out
