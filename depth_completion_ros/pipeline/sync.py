"""Time synchronization of sensor streams, ROS-free (ApproximateTime-style, plus more).

The policy matches each message of a *pivot* input (the slowest required sensor, e.g. the
LiDAR sweep) with the nearest message of every other required input, within ``slop``.
Each message is used at most once; optional inputs (radar) are attached when one lies
within slop at the moment the set completes, and never hold a set back, except the
*awaited* ones: a set waits for an awaited input's nearest message until that choice is
final or the next pivot message arrives, whichever is first (so a late radar sweep still
joins its camera frame on a rig without LiDAR, and a silent radar costs at most one pivot
period of latency, never a frame).

A partner choice is *final* as soon as no later message of that input can be nearer to
the pivot stamp (or, when none in slop was found, can fall within slop): stamps on one
input only grow, and the next one comes at least one *shortest interval* after the newest
(half the smallest of the input's recent stamp intervals, a margin for rate changes). So
a set whose image is stamped a few milliseconds before its sweep is released when the
sweep arrives, not one camera period later when the next image does.

Beyond ``message_filters.ApproximateTimeSynchronizer`` it counts every drop by reason,
resets cleanly when time jumps backwards (a looping bag, ``use_sim_time``) and keeps
memory bounded by ``queue_size`` per input. ``add`` returns the completed sets, so the
caller runs inference outside the policy's lock; :class:`SetQueue` then hands the sets to
a worker in order, and counts the oldest ones it drops when the worker falls behind.

Drop reasons (keys of ``stats()['drops']``):
    ``too_old``         arrived older than the last emitted set: can no longer be matched;
    ``no_partner``      a pivot message with no partner within slop on some required input;
    ``queue_overflow``  pushed out of a full queue while waiting for partners;
    ``time_jump``       discarded by a reset after time went backwards;
    ``unused``          a partner message passed over by the matching (e.g. the two extra
                        frames of a 30 Hz camera per 10 Hz sweep): expected, not an error.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

DROP_REASONS = ("too_old", "no_partner", "queue_overflow", "time_jump", "unused")
INTERVAL_HISTORY = 8  # recent stamp intervals kept per input for its shortest interval
INTERVAL_MARGIN = 0.5  # the next message is assumed no sooner than this x the shortest interval seen


@dataclass(frozen=True)
class SyncConfig:
    """Which inputs to match and how.

    Attributes:
        pivot: the input every set is built around (one set per pivot message at most).
        required: the other inputs every set must contain.
        optional: inputs attached when in time.
        awaited: optional inputs a set waits for until the next pivot message arrives.
        slop_ns: largest allowed |stamp - pivot stamp| of a set member, nanoseconds.
        queue_size: messages kept per input while waiting.
        time_jump_ns: a stamp this much older than the newest one seen on the same input
            is a time jump (reset); smaller reorderings are dropped as ``too_old``.
    """

    pivot: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    awaited: tuple[str, ...] = ()
    slop_ns: int = 50_000_000
    queue_size: int = 10
    time_jump_ns: int = 1_000_000_000

    def __post_init__(self) -> None:
        names = (self.pivot, *self.required, *self.optional)
        if len(set(names)) != len(names):
            raise ValueError(f"input names must be unique, got {names}")
        if not set(self.awaited) <= set(self.optional):
            raise ValueError(f"awaited inputs {self.awaited} must be optional inputs {self.optional}")
        if self.slop_ns < 0 or self.queue_size < 1 or self.time_jump_ns <= 0:
            raise ValueError("slop_ns must be >= 0, queue_size >= 1 and time_jump_ns > 0")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.pivot, *self.required, *self.optional)


@dataclass(frozen=True)
class Stamped:
    """One message: its stamp (ns) and whatever the caller stores with it."""

    stamp_ns: int
    payload: Any = field(compare=False)


@dataclass(frozen=True)
class MatchedSet:
    """A synchronized set: the pivot stamp and one message per matched input."""

    stamp_ns: int
    messages: dict[str, Stamped]

    def spread_ns(self) -> int:
        stamps = [m.stamp_ns for m in self.messages.values()]
        return max(stamps) - min(stamps)


class ApproximateSync:
    """Thread-safe matching policy; see the module docstring."""

    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Stamped]] = {name: deque() for name in config.inputs}
        self._newest: dict[str, int] = {}
        self._intervals: dict[str, deque[int]] = {name: deque(maxlen=INTERVAL_HISTORY) for name in config.inputs}
        self._last_emitted_ns: int | None = None
        self._drops: Counter[str] = Counter()
        self._received: Counter[str] = Counter()
        self._emitted = 0
        self._resets = 0

    def add(self, name: str, stamp_ns: int, payload: Any = None) -> list[MatchedSet]:
        """Offer one message; returns the sets it completed (oldest first)."""
        if name not in self._queues:
            raise KeyError(f"unknown input '{name}'; configured: {self.config.inputs}")
        with self._lock:
            self._received[name] += 1
            newest = self._newest.get(name)
            if newest is not None and stamp_ns < newest - self.config.time_jump_ns:
                self._reset_locked()
            elif (newest is not None and stamp_ns < newest) or (
                self._last_emitted_ns is not None and stamp_ns < self._last_emitted_ns - self.config.slop_ns
            ):
                self._drops["too_old"] += 1
                return []
            if newest is not None and stamp_ns > newest:
                self._intervals[name].append(stamp_ns - newest)
            self._newest[name] = stamp_ns
            queue = self._queues[name]
            queue.append(Stamped(stamp_ns, payload))
            if len(queue) > self.config.queue_size:
                queue.popleft()
                self._drops["queue_overflow"] += 1
            return self._match_locked()

    def drain(self) -> list[MatchedSet]:
        """At the end of a finite stream (a bag): match the waiting pivots with the partners
        there are, since no closer message will come."""
        with self._lock:
            return self._match_locked(end_of_stream=True)

    def reset(self) -> None:
        """Forget every queued message (counted as ``time_jump`` drops), e.g. on a clock reset."""
        with self._lock:
            self._reset_locked()

    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics: received per input, emitted sets, drops by reason, resets."""
        with self._lock:
            return {
                "received": dict(self._received),
                "emitted": self._emitted,
                "drops": {reason: self._drops[reason] for reason in DROP_REASONS},
                "resets": self._resets,
                "queued": {name: len(q) for name, q in self._queues.items()},
            }

    def _reset_locked(self) -> None:
        self._drops["time_jump"] += sum(len(q) for q in self._queues.values())
        for queue in self._queues.values():
            queue.clear()
        self._newest.clear()
        for intervals in self._intervals.values():
            intervals.clear()
        self._last_emitted_ns = None
        self._resets += 1

    def _next_stamp_bound(self, name: str) -> int | None:
        """Earliest stamp (ns) the next message of ``name`` can carry, or None while the
        input's interval is unknown (fewer than two messages since the last reset)."""
        intervals = self._intervals[name]
        if not intervals or name not in self._newest:
            return None
        return self._newest[name] + int(INTERVAL_MARGIN * min(intervals))

    def _nearest(self, name: str, stamp_ns: int) -> tuple[int, bool] | None:
        """Index of the message of ``name`` nearest to ``stamp_ns``, and whether the choice
        is final: no later message of ``name`` can be nearer (a message at or after
        ``stamp_ns`` exists, or the next one cannot come before the mirror stamp), nor, when
        the nearest is out of slop, fall within slop. None when the queue is empty."""
        queue = self._queues[name]
        if not queue:
            return None
        stamps = [m.stamp_ns for m in queue]
        after = bisect.bisect_left(stamps, stamp_ns)
        candidates = [i for i in (after - 1, after) if 0 <= i < len(stamps)]
        best = min(candidates, key=lambda i: abs(stamps[i] - stamp_ns))
        if after < len(stamps):
            return best, True
        next_stamp = self._next_stamp_bound(name)
        if next_stamp is None:
            return best, False
        reach_ns = min(abs(stamps[best] - stamp_ns), self.config.slop_ns + 1)
        return best, next_stamp - stamp_ns >= reach_ns

    def _final(self, name: str, stamp_ns: int) -> bool:
        """Whether the nearest message of ``name`` to ``stamp_ns`` can no longer change."""
        found = self._nearest(name, stamp_ns)
        return found is not None and found[1]

    def _within_slop(self, name: str, index: int, stamp_ns: int) -> bool:
        return abs(self._queues[name][index].stamp_ns - stamp_ns) <= self.config.slop_ns

    def _match_locked(self, end_of_stream: bool = False) -> list[MatchedSet]:
        emitted: list[MatchedSet] = []
        pivots = self._queues[self.config.pivot]
        while pivots:
            pivot = pivots[0]
            chosen: dict[str, int] = {}
            for name in self.config.required:
                found = self._nearest(name, pivot.stamp_ns)
                if found is None and end_of_stream:
                    break
                if found is None or not (found[1] or end_of_stream):
                    return emitted  # a closer partner may still arrive: wait
                if not self._within_slop(name, found[0], pivot.stamp_ns):
                    break
                chosen[name] = found[0]
            if len(chosen) < len(self.config.required):
                pivots.popleft()
                self._drops["no_partner"] += 1
                continue
            if not end_of_stream and len(pivots) == 1 and not all(self._final(name, pivot.stamp_ns)
                                                                  for name in self.config.awaited):
                return emitted  # the newest pivot waits for its awaited inputs
            messages = {self.config.pivot: pivots.popleft()}
            for name, index in chosen.items():
                messages[name] = self._take(name, index)
            for name in self.config.optional:
                found = self._nearest(name, pivot.stamp_ns)
                if found is not None and self._within_slop(name, found[0], pivot.stamp_ns):
                    messages[name] = self._take(name, found[0])
            self._discard_unmatchable(pivot.stamp_ns)
            self._last_emitted_ns = pivot.stamp_ns
            self._emitted += 1
            emitted.append(MatchedSet(pivot.stamp_ns, messages))
        return emitted

    def _discard_unmatchable(self, emitted_ns: int) -> None:
        """Drop partner messages older than ``emitted_ns - slop``: later pivots can't use them."""
        for name in (*self.config.required, *self.config.optional):
            queue = self._queues[name]
            while queue and queue[0].stamp_ns < emitted_ns - self.config.slop_ns:
                queue.popleft()
                self._drops["unused"] += 1

    def _take(self, name: str, index: int) -> Stamped:
        """Remove and return message ``index`` of ``name``; older ones are ``unused``."""
        queue = self._queues[name]
        for _ in range(index):
            queue.popleft()
        self._drops["unused"] += index
        return queue.popleft()


class SetQueue:
    """A bounded first-in, first-out mailbox between the synchronizer and a slower worker.

    Sets released together (a burst) are all handed over in stamp order; when the worker
    falls more than ``capacity`` sets behind, the oldest waiting set is dropped (counted in
    ``skipped``: the node's ``skipped_busy``), so the newest always survive and memory and
    latency stay bounded.

    Args:
        capacity: sets kept waiting (besides the one being processed), >= 1.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._condition = threading.Condition()
        self._items: deque[MatchedSet] = deque()
        self.capacity = capacity
        self.skipped = 0
        self._closed = False

    def put(self, item: MatchedSet) -> None:
        """Queue ``item``, pushing out the oldest waiting set when full (counted)."""
        with self._condition:
            self._items.append(item)
            if len(self._items) > self.capacity:
                self._items.popleft()
                self.skipped += 1
            self._condition.notify()

    def take(self, timeout: float | None = None) -> MatchedSet | None:
        """The oldest waiting set, waiting up to ``timeout`` seconds; None on timeout or close."""
        with self._condition:
            self._condition.wait_for(lambda: bool(self._items) or self._closed, timeout)
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._condition:
            return len(self._items)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
