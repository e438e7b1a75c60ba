"""Starting a node process under test until the test's own participant has discovered it."""

from __future__ import annotations

import signal
import subprocess
import time
import warnings
from pathlib import Path

from depth_completion_ros.ros.shm import clean_zombie_shm

# A node is normally seen within 1-5 s of its start (30 s under a loaded CI machine).
DISCOVERY_TIMEOUT_S = 45.0
LOG_TAIL_CHARS = 3000


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_discovered(command: list[str], log_path: Path, executor, subscriptions: list,
                     timeout_s: float = DISCOVERY_TIMEOUT_S, attempts: int = 2) -> subprocess.Popen:
    """Start ``command`` (its output in ``log_path``) and spin ``executor`` until every one of
    ``subscriptions`` has a publisher.

    Fast DDS (3.2.3 wheels, LARGE_DATA) has, about once in 250 node starts on this machine,
    left a started and ready node undiscovered by every other participant for minutes (CI
    failed on it; neither this process nor a fresh one heard it). That is not the node
    under test's doing, so such a start is retried once in a fresh process, with a warning
    that carries the node's log; a node that dies, or is never discovered, fails the test.

    Returns:
        The running, discovered node process.
    """
    for attempt in range(1, attempts + 1):
        clean_zombie_shm()  # Fast DDS files of processes killed by earlier tests stall discovery
        with open(log_path, "w" if attempt == 1 else "a") as log:
            log.write(f"--- start {attempt} ---\n")
            log.flush()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while any(s.get_publisher_count() == 0 for s in subscriptions) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            assert process.poll() is None, f"the node died at start:\n{log_path.read_text()}"
        if all(s.get_publisher_count() > 0 for s in subscriptions):
            return process
        _stop(process)
        missing = [s.topic_name for s in subscriptions if s.get_publisher_count() == 0]
        message = (f"start {attempt}/{attempts}: no publisher on {missing} within {timeout_s:.0f} s; node log:\n"
                   f"{log_path.read_text()[-LOG_TAIL_CHARS:]}")
        if attempt == attempts:
            raise AssertionError(message)
        warnings.warn(f"Fast DDS did not discover the node: {message}", stacklevel=2)
    raise ValueError(f"attempts must be at least 1, not {attempts}")


def run_discovering_publisher(args: list[str], executor, undiscovered: str, timeout_s: float = 120.0,
                              attempts: int = 2) -> tuple[int, str, str]:
    """Run a publisher process to its end while spinning ``executor``; ``(returncode,
    stdout, stderr)``.

    The same Fast DDS stall happens the other way round: a fresh publisher process has
    failed to discover a node that this process had discovered (CI, twice on one test).
    A publisher that ends saying ``undiscovered`` published nothing, so it is run once more in
    a fresh process, with a warning.
    """
    for attempt in range(1, attempts + 1):
        clean_zombie_shm()
        publisher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout_s
        while publisher.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        out, err = publisher.communicate(timeout=30)
        if publisher.returncode == 0 or undiscovered not in err or attempt == attempts:
            return publisher.returncode, out, err
        warnings.warn(f"Fast DDS: the publisher (start {attempt}/{attempts}) did not discover the node: {err}",
                      stacklevel=2)
    raise ValueError(f"attempts must be at least 1, not {attempts}")
