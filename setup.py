"""ament_python build for depth_completion_ros (also a plain pip-installable package)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "depth_completion_ros"


def share_files(folder: str, pattern: str) -> tuple[str, list[str]]:
    """(install dir under share/, files) for one folder of data files."""
    return (f"share/{PACKAGE}/{folder}", sorted(glob(f"{folder}/{pattern}")))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "benchmarks"]),
    package_data={PACKAGE: ["weights/*.pt", "weights/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        share_files("launch", "*.launch.py"),
        share_files("config", "*.yaml"),
        share_files("config/rigs", "*.yaml"),
        share_files("rviz", "*.rviz"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="depth_completion_ros maintainers",
    maintainer_email="maintainers@depth-completion-ros.dev",
    description="Depth completion and stereo occupancy for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "dcr = depth_completion_ros.cli.main:main",
            "depth_completion_node = depth_completion_ros.ros.depth_completion_node:main",
        ],
    },
)
