"""The package builds with colcon in a ROS 2 workspace and installs what ROS tools expect."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "depth_completion_ros"
SHARED_FOLDERS = ("launch", "config", "rviz")


def package_files() -> list[str]:
    """Files git would ship (tracked + new, not ignored)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return [f for f in listing.stdout.splitlines() if (REPO / f).is_file()]


@pytest.mark.slow
def test_colcon_build_install_tree(tmp_path):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists() or shutil.which("git") is None:
        pytest.skip("colcon (requirements-dev.txt) and git are needed")
    source = tmp_path / "src" / PACKAGE
    for relative in package_files():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, source / relative)
    build = subprocess.run(
        [str(colcon), "build", "--event-handlers", "console_direct-"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr

    prefix = tmp_path / "install" / PACKAGE
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).is_file()
    share = prefix / "share" / PACKAGE
    assert (share / "package.xml").read_text() == (REPO / "package.xml").read_text()
    for folder in SHARED_FOLDERS:
        assert (share / folder).is_dir(), f"share/{PACKAGE}/{folder} missing"
        for installed in (REPO / folder).rglob("*"):
            if installed.is_file() and installed.suffix in {".py", ".yaml", ".rviz"}:
                assert (share / installed.relative_to(REPO)).is_file(), f"{installed} not installed"

    dcr = prefix / "lib" / PACKAGE / "dcr"
    assert dcr.is_file() and os.access(dcr, os.X_OK)
    site = next((prefix / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([str(dcr), "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and "usage: dcr" in run.stdout, run.stderr
    where = subprocess.run(
        [sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert str(site) in where.stdout, "the installed package is not the one imported from the install tree"
