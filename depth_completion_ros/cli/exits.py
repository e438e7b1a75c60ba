"""The exit codes every ``dcr`` subcommand uses, and what counts as an interruption."""

from __future__ import annotations

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = {
    EXIT_OK: "all done",
    EXIT_PARTIAL: "done with some bad items (named; the rest written)",
    EXIT_USAGE: "bad usage or input (a bad argument, file, bag or configuration)",
    EXIT_BUG: "unexpected error: a bug; the traceback is in the log file named",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}


def is_interruption(error: BaseException) -> bool:
    """Ctrl-C / SIGTERM as Python sees it, including rclpy's ExternalShutdownException
    (rclpy takes the signal while a node spins)."""
    return isinstance(error, KeyboardInterrupt) or type(error).__name__ == "ExternalShutdownException"
