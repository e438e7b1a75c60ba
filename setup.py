"""ament_python build for depth_completion_ros (also a plain pip-installable package)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "depth_completion_ros"


def share_files(folder: str, pattern: str) -> list[tuple[str, list[str]]]:
    """(install dir under share/, files) for a folder of data files and each subfolder."""
    folders = [folder] + sorted(p for p in glob(f"{folder}/**/", recursive=True) if p.rstrip("/") != folder)
    return [(f"share/{PACKAGE}/{f.rstrip('/')}", sorted(glob(f"{f.rstrip('/')}/{pattern}"))) for f in folders]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "benchmarks"]),
    package_data={PACKAGE: ["weights/*.pt", "weights/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_files("launch", "*.launch.py"),
        *share_files("config", "*.yaml"),
        *share_files("rviz", "*.rviz"),
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
            "stereo_occupancy_node = depth_completion_ros.ros.stereo_occupancy_node:main",
        ],
    },
)
