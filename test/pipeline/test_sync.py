import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depth_completion_ros.pipeline.sync import ApproximateSync, MatchedSet, SetQueue, SyncConfig

MS = 1_000_000
CONFIG = SyncConfig(pivot="lidar", required=("image",), optional=("radar",), slop_ns=20 * MS, queue_size=20)


def stream(name: str, rate_hz: float, duration_s: float, jitter_ms: float, offset_ms: float, rng) -> list:
    """(stamp_ns, name) of one sensor at ``rate_hz`` with uniform stamp jitter."""
    period = 1e9 / rate_hz
    count = int(duration_s * rate_hz)
    stamps = offset_ms * MS + np.arange(count) * period + rng.uniform(-jitter_ms, jitter_ms, count) * MS
    return [(int(s), name) for s in np.sort(stamps)]


def arrivals(streams: list[list], latency_ms: dict[str, float], rng) -> list:
    """Interleave streams in arrival order: stamp + per-message random transport delay.
    Per-topic order is kept (DDS keeps it for one reliable writer)."""
    events = []
    for s in streams:
        last = -np.inf
        for stamp, name in s:
            arrive = max(last, stamp + rng.uniform(0, latency_ms[name]) * MS)
            last = arrive
            events.append((arrive, stamp, name))
    events.sort()
    return [(name, stamp) for _, stamp, name in events]


def run(sync: ApproximateSync, events) -> list[tuple[int, MatchedSet]]:
    """(index of the event that completed it, set) for every emitted set."""
    out = []
    for i, (name, stamp) in enumerate(events):
        out += [(i, s) for s in sync.add(name, stamp, (name, stamp))]
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lidar_latency=st.floats(0, 120), image_latency=st.floats(0, 60))
def test_sets_within_slop_each_message_once_and_nearly_every_sweep_matched(seed, lidar_latency, image_latency):
    rng = np.random.default_rng(seed)
    streams = [
        stream("lidar", 10, 6, 2, 0, rng),
        stream("image", 30, 6, 3, rng.uniform(0, 33), rng),
        stream("radar", 13, 6, 5, rng.uniform(0, 77), rng),
    ]
    events = arrivals(streams, {"lidar": lidar_latency, "image": image_latency, "radar": 40}, rng)
    sync = ApproximateSync(CONFIG)
    emitted = run(sync, events)
    sets = [s for _, s in emitted]
    used = [(name, m.stamp_ns) for s in sets for name, m in s.messages.items()]
    assert len(used) == len(set(used)), "a message was emitted twice"
    for s in sets:
        assert s.spread_ns() <= 2 * CONFIG.slop_ns
        assert all(abs(m.stamp_ns - s.stamp_ns) <= CONFIG.slop_ns for m in s.messages.values())
        assert s.messages["lidar"].stamp_ns == s.stamp_ns
    assert [s.stamp_ns for s in sets] == sorted(s.stamp_ns for s in sets)
    # every sweep has an image within 33/2 + jitter ms: all but the last (still waiting) match
    assert len(sets) >= len(streams[0]) - 1
    # radar is attached whenever an unused radar message within slop had arrived in time
    used_radar = {m.stamp_ns for s in sets for n, m in s.messages.items() if n == "radar"}
    radar_arrival = [(i, stamp) for i, (name, stamp) in enumerate(events) if name == "radar"]
    for emitted_at, s in emitted:
        if "radar" not in s.messages:
            missed = [t for i, t in radar_arrival if i <= emitted_at and abs(t - s.stamp_ns) <= CONFIG.slop_ns
                      and t not in used_radar]
            assert not missed, f"radar {missed} was in time for the set at {s.stamp_ns} but not attached"
    # (whether any radar arrives in time is chance: with prompt LiDAR and images a set is final
    # before a radar message 0-40 ms late, and radar is optional, not awaited, beside LiDAR)


def test_picks_the_nearest_partner_and_waits_for_a_closer_one():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=50 * MS))
    assert sync.add("image", 90 * MS) == []
    assert sync.add("lidar", 100 * MS) == []  # an image at 100-110 ms could still come
    sets = sync.add("image", 105 * MS)
    assert len(sets) == 1 and sets[0].messages["image"].stamp_ns == 105 * MS
    assert sync.stats()["drops"]["unused"] == 1  # the 90 ms image was passed over


def test_pivot_without_partner_in_slop_is_dropped_with_reason():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=10 * MS))
    sync.add("lidar", 100 * MS)
    assert sync.add("image", 150 * MS) == []
    assert sync.stats()["drops"]["no_partner"] == 1
    assert sync.add("lidar", 152 * MS) == []  # an image nearer than 150 ms may still come
    sets = sync.add("image", 160 * MS)
    assert len(sets) == 1 and sets[0].messages["image"].stamp_ns == 150 * MS


def test_optional_input_never_blocks_and_is_attached_when_in_time():
    sync = ApproximateSync(CONFIG)
    sync.add("radar", 98 * MS)
    sync.add("lidar", 100 * MS)
    first = sync.add("image", 101 * MS)
    assert "radar" in first[0].messages
    sync.add("lidar", 200 * MS)
    second = sync.add("image", 199 * MS + 1)  # not final yet: 199 < 200
    second += sync.add("image", 233 * MS)
    assert len(second) == 1 and "radar" not in second[0].messages  # radar dropped out


def test_queue_is_bounded_when_a_required_sensor_is_missing():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), queue_size=5))
    for i in range(50):
        assert sync.add("lidar", i * 100 * MS) == []
    stats = sync.stats()
    assert stats["queued"]["lidar"] == 5 and stats["drops"]["queue_overflow"] == 45


def test_time_going_backwards_resets_and_matching_resumes():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    for t in range(0, 3000, 100):
        sync.add("image", t * MS)
        sync.add("lidar", t * MS)
    emitted_before = sync.stats()["emitted"]
    assert emitted_before == 30
    sync.add("image", 5_000 * MS)  # parked: no lidar yet
    # the bag loops: stamps restart at 0
    out = sync.add("lidar", 0)
    stats = sync.stats()
    assert stats["resets"] == 1 and stats["drops"]["time_jump"] >= 1
    out += sync.add("image", 1 * MS)
    assert len(out) == 1 and out[0].stamp_ns == 0


def test_small_reordering_is_dropped_as_too_old():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    sync.add("image", 100 * MS)
    sync.add("lidar", 100 * MS)
    assert sync.add("image", 50 * MS) == []
    assert sync.add("lidar", 90 * MS) == []
    assert sync.stats()["drops"]["too_old"] == 2 and sync.stats()["resets"] == 0


def test_unknown_input_and_bad_config():
    with pytest.raises(KeyError):
        ApproximateSync(CONFIG).add("sonar", 0)
    with pytest.raises(ValueError):
        SyncConfig(pivot="a", required=("a",))


def test_set_queue_hands_every_set_in_order_and_drops_the_oldest_when_full():
    queue = SetQueue(capacity=3)
    sets = [MatchedSet(i, {}) for i in range(5)]
    for s in sets:
        queue.put(s)
    assert queue.skipped == 2 and len(queue) == 3
    assert [queue.take(timeout=0) for _ in range(3)] == sets[2:]  # oldest first, newest kept
    assert queue.take(timeout=0.01) is None
    got = []
    worker = threading.Thread(target=lambda: got.append(queue.take(timeout=5)))
    worker.start()
    queue.put(sets[0])
    worker.join(5)
    assert got == [sets[0]]
    queue.close()
    assert queue.take() is None
    with pytest.raises(ValueError, match="capacity"):
        SetQueue(0)


def test_drain_matches_the_last_pivot_at_the_end_of_a_bag():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    sync.add("image", 95 * MS)
    assert sync.add("lidar", 100 * MS) == []  # a nearer image could still come...
    sets = sync.drain()  # ...but the bag has ended
    assert len(sets) == 1 and sets[0].messages["image"].stamp_ns == 95 * MS
    sync.add("lidar", 300 * MS)
    assert sync.drain() == [] and sync.stats()["drops"]["no_partner"] == 1


def test_awaited_optional_input_waits_until_the_next_pivot_only():
    sync = ApproximateSync(SyncConfig(pivot="image", required=(), optional=("radar",), awaited=("radar",),
                                      slop_ns=20 * MS))
    assert sync.add("image", 100 * MS) == []  # radar may still come
    late = sync.add("radar", 105 * MS)  # arrives after its image: still joins it
    assert len(late) == 1 and late[0].messages["radar"].stamp_ns == 105 * MS
    assert sync.add("image", 180 * MS) == []
    silent = sync.add("image", 260 * MS)  # the radar went silent: the next image releases the set
    assert [s.stamp_ns for s in silent] == [180 * MS] and "radar" not in silent[0].messages
    assert [s.stamp_ns for s in sync.drain()] == [260 * MS]
    with pytest.raises(ValueError, match="awaited"):
        SyncConfig(pivot="image", required=(), optional=(), awaited=("radar",))


def one_image_per_sweep(rate_hz: float, sweeps: int, jitter_ms: float, rng) -> tuple[list, list]:
    """(lidar stamps, image stamps) of a KITTI-like rig: one image per sweep, the cloud
    stamped within +-jitter_ms of its image (both orders), the camera's own period jittered
    by 1 ms."""
    period = 1e9 / rate_hz
    images = (np.arange(sweeps) * period + rng.uniform(-1, 1, sweeps) * MS).astype(np.int64)
    clouds = images + (rng.uniform(-jitter_ms, jitter_ms, sweeps) * MS).astype(np.int64)
    return clouds.tolist(), images.tolist()


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rate_hz=st.sampled_from([5.0, 10.0, 20.0]),
       cloud_delay_ms=st.floats(0, 40), image_delay_ms=st.floats(0, 40))
def test_every_jittered_sweep_is_matched_once_as_soon_as_its_set_is_in(seed, rate_hz, cloud_delay_ms,
                                                                       image_delay_ms):
    """Stamps +-5 ms around the image in both orders, delivery in any order across topics:
    every sweep gets its own image, and (once each input's interval is known) its set is
    released by the arrival of its last member, not held until the next image."""
    rng = np.random.default_rng(seed)
    clouds, images = one_image_per_sweep(rate_hz, 40, 5.0, rng)
    events = []
    for name, stamps, delay in (("lidar", clouds, cloud_delay_ms), ("image", images, image_delay_ms)):
        arrive = np.maximum.accumulate(np.array(stamps) + rng.uniform(0, delay, len(stamps)) * MS)
        events += [(a, stamp, name) for a, stamp in zip(arrive, stamps)]
    events.sort()
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    emitted = run(sync, [(name, stamp) for _, stamp, name in events])
    assert [(s.stamp_ns, s.messages["image"].stamp_ns) for _, s in emitted] == list(zip(clouds, images))
    arrival = {(name, stamp): i for i, (_, stamp, name) in enumerate(events)}
    for sweep, (emitted_at, _) in enumerate(emitted):
        if sweep >= 2:  # from the third sweep on, both inputs' intervals are known
            assert emitted_at == max(arrival["lidar", clouds[sweep]], arrival["image", images[sweep]]), \
                f"sweep {sweep} held back"
    assert sync.stats()["drops"] == {reason: 0 for reason in sync.stats()["drops"]}


def test_image_stamped_before_its_sweep_is_released_with_the_sweep():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    assert sync.add("image", 0) == [] and sync.add("lidar", 3 * MS) == []  # image interval not known yet
    first = sync.add("image", 100 * MS)
    assert [s.stamp_ns for s in first] == [3 * MS]
    assert sync.add("lidar", 103 * MS)[0].messages["image"].stamp_ns == 100 * MS  # no wait for 200 ms
    assert sync.add("image", 200 * MS) == []
    assert sync.add("lidar", 196 * MS)[0].messages["image"].stamp_ns == 200 * MS


def test_a_faster_camera_still_gets_the_nearest_image():
    """30 Hz images, 10 Hz sweeps between two images: the set waits for the image that could
    be nearer, and is released as soon as the next image cannot be."""
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=20 * MS))
    for stamp in (0, 33, 66):
        sync.add("image", stamp * MS)
    assert sync.add("lidar", 85 * MS) == []  # the next image (>= 82 ms) may be nearer than 66 ms
    sets = sync.add("image", 99 * MS)
    assert sets[0].messages["image"].stamp_ns == 99 * MS
    assert sync.add("image", 132 * MS) == []
    sets = sync.add("lidar", 134 * MS)  # 132 is 2 ms away, the next image >= 148 ms: final now
    assert sets[0].messages["image"].stamp_ns == 132 * MS


def test_no_partner_is_final_once_no_image_can_come_within_slop():
    sync = ApproximateSync(SyncConfig(pivot="lidar", required=("image",), slop_ns=10 * MS))
    sync.add("image", 0)
    sync.add("image", 100 * MS)
    assert len(sync.add("lidar", 100 * MS)) == 1
    sync.add("image", 200 * MS)
    assert sync.add("lidar", 215 * MS) == []  # the next image comes >= 250 ms: none can be within 10 ms
    assert sync.stats()["drops"]["no_partner"] == 1
    assert sync.add("lidar", 248 * MS) == []  # an image at 250 ms could still match
    assert sync.stats()["drops"]["no_partner"] == 1
    assert sync.add("image", 252 * MS)[0].stamp_ns == 248 * MS
