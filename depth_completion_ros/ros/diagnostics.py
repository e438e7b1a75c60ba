"""Windowed node statistics -> ``diagnostic_msgs/DiagnosticArray``."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


class NodeStatistics:
    """Thread-safe counters, rates and timing samples between two diagnostics ticks.

    Totals (``bad_input`` counts, outputs) accumulate for the node's life; rates and
    timing medians cover the window since the previous :meth:`snapshot`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window_start = time.monotonic()
        self._received: Counter[str] = Counter()
        self._synchronized = 0
        self._latency_ms: list[float] = []
        self._inference_ms: list[float] = []
        self.bad_input: Counter[str] = Counter()
        self.outputs = 0

    def received(self, topic: str) -> None:
        with self._lock:
            self._received[topic] += 1

    def synchronized(self) -> None:
        with self._lock:
            self._synchronized += 1

    def bad(self, kind: str, count: int = 1) -> None:
        with self._lock:
            self.bad_input[kind] += count

    def published(self, latency_ms: float, inference_ms: float) -> None:
        with self._lock:
            self.outputs += 1
            self._latency_ms.append(latency_ms)
            self._inference_ms.append(inference_ms)

    def snapshot(self) -> dict[str, object]:
        """Rates (Hz) and medians (ms) of the window since the last snapshot, plus totals."""
        with self._lock:
            now = time.monotonic()
            seconds = max(now - self._window_start, 1e-6)
            snap = {
                "window_s": seconds,
                "input_rate_hz": {topic: n / seconds for topic, n in self._received.items()},
                "synchronized_rate_hz": self._synchronized / seconds,
                "output_rate_hz": len(self._latency_ms) / seconds,
                "latency_ms_median": statistics.median(self._latency_ms) if self._latency_ms else None,
                "latency_ms_max": max(self._latency_ms) if self._latency_ms else None,
                "inference_ms_median": statistics.median(self._inference_ms) if self._inference_ms else None,
                "bad_input": dict(self.bad_input),
                "outputs": self.outputs,
            }
            self._window_start = now
            self._received.clear()
            self._synchronized = 0
            self._latency_ms.clear()
            self._inference_ms.clear()
            return snap


def _format(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def diagnostic_values(array: DiagnosticArray) -> dict[str, str]:
    """key -> value of the node's status in one of its diagnostics messages (it publishes one)."""
    return {kv.key: kv.value for kv in array.status[0].values}


def drop_counts(values: dict[str, str]) -> dict[str, int]:
    """The node's counts of input it could not use, from its diagnostic values: nonzero
    ``drops.<reason>`` as ``<reason>`` and ``bad_input.<kind>`` as is, counted since the
    node started."""
    counts = {}
    for key, value in values.items():
        if key.startswith(("drops.", "bad_input.")) and int(value):
            counts[key.removeprefix("drops.")] = int(value)
    return counts


def diagnostic_array(
    name: str, hardware_id: str, values: dict[str, object], stamp, warnings: list[str]
) -> DiagnosticArray:
    """One DiagnosticStatus with ``values`` flattened to ``key`` / ``key.sub`` KeyValues.

    The level is WARN when ``warnings`` is non-empty (their text is the message), else OK.
    """
    pairs = []
    for key, value in values.items():
        if isinstance(value, dict):
            pairs += [KeyValue(key=f"{key}.{sub}", value=_format(v)) for sub, v in sorted(value.items())]
        else:
            pairs.append(KeyValue(key=key, value=_format(value)))
    status = DiagnosticStatus(
        level=DiagnosticStatus.WARN if warnings else DiagnosticStatus.OK,
        name=name,
        message="; ".join(warnings) if warnings else "ok",
        hardware_id=hardware_id,
        values=pairs,
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
