"""Zombie Fast DDS shared-memory files: only those whose lock nobody holds are removed."""

import fcntl

from depth_completion_ros.ros.shm import clean_zombie_shm, zombie_shm_files


def make_files(directory, name: str, lock_suffix: str = "_el") -> list:
    paths = [directory / name, directory / f"{name}{lock_suffix}", directory / f"sem.{name}_mutex"]
    for path in paths:
        path.write_bytes(b"")
    return paths


def test_unlocked_ports_and_segments_are_zombies_and_locked_ones_are_kept(tmp_path):
    dead_port = make_files(tmp_path, "fastdds_port7411")
    dead_segment = make_files(tmp_path, "fastrtps_0123456789abcdef", "_sl")[:2]
    (tmp_path / "sem.fastrtps_0123456789abcdef_mutex").unlink()  # segments have no mutex
    live = make_files(tmp_path, "fastdds_port7413")
    unrelated = tmp_path / "fastdds_port7000"  # a port nobody listens on has no lock file
    unrelated.write_bytes(b"")
    (tmp_path / "other_el").write_bytes(b"")
    with open(live[1], "ab") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # a live owner holds its lock
        assert zombie_shm_files(tmp_path) == sorted(dead_port + dead_segment)
        assert clean_zombie_shm(tmp_path) == sorted(dead_port + dead_segment)
    assert all(p.exists() for p in live) and unrelated.exists() and (tmp_path / "other_el").exists()
    assert not any(p.exists() for p in dead_port + dead_segment)


def test_a_missing_directory_has_no_zombies(tmp_path):
    assert zombie_shm_files(tmp_path / "absent") == [] and clean_zombie_shm(tmp_path / "absent") == []
