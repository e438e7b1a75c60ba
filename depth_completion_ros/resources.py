"""Where the package's installed data files (config/, launch/, rviz/) are."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "depth_completion_ros"


def share_dir() -> Path:
    """``share/depth_completion_ros`` of a ROS install, or the source tree in a checkout.

    Order: ament_index (a sourced ROS workspace), the colcon/pip install prefix next to
    this module, then the repository root of a development checkout.
    """
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, OSError):  # no ament, package unknown to it, AMENT_PREFIX_PATH unset
        pass
    here = Path(__file__).resolve().parent  # <prefix>/lib/python3.X/site-packages/<package>
    candidates = [here.parent]
    if len(here.parents) > 3:
        candidates.insert(0, here.parents[3] / "share" / PACKAGE)
    for candidate in candidates:
        if (candidate / "config").is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {PACKAGE} share directory (config/, launch/); is the package installed?")
