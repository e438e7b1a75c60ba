"""Reading a node's diagnostics in the multi-process node tests."""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray

from depth_completion_ros.ros.diagnostics import diagnostic_values


def counters(diagnostic: DiagnosticArray) -> dict[str, str]:
    """The node's event counters in one diagnostics message (not its rates or windows)."""
    return {key: value for key, value in diagnostic_values(diagnostic).items()
            if key in ("outputs", "sync_resets") or key.startswith(("bad_input.", "drops.", "engine."))}


def settle_until_counters_rest(executor, diagnostics: list[DiagnosticArray], minimum_s: float = 2.5,
                               timeout_s: float = 30.0) -> None:
    """Spin after the inputs ended until two diagnostics ticks received since then report the
    same counters (the node has answered every set), at least ``minimum_s`` and at most
    ``timeout_s``. A fixed wait lost a whole run's diagnostics on a loaded CI machine, where
    the first sample over a fresh DDS match took seconds."""
    start = time.monotonic()
    seen = len(diagnostics)
    while time.monotonic() < start + timeout_s:
        executor.spin_once(timeout_sec=0.05)
        fresh = diagnostics[seen:]
        if (time.monotonic() >= start + minimum_s and len(fresh) >= 2
                and counters(fresh[-1]) == counters(fresh[-2])):
            return
