"""Camera + radar depth completion (method ``radar``, the shipped radar-camera network) on a nuScenes-like rig.

    ros2 launch depth_completion_ros radar_camera.launch.py radar_points:=/radar_front

The depth_completion launch file with config/radar_camera.yaml (method: radar, use_radar:
true, nuScenes field names and extrinsics; the LiDAR is used only when no radar is in view,
``without_radar: lidar``; set ``use_lidar: false`` in a copy of the file for a rig without
LiDAR); every argument of depth_completion.launch.py is passed on.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("depth_completion_ros")
    config = DeclareLaunchArgument(
        "config", default_value=PathJoinSubstitution([share, "config", "radar_camera.yaml"]),
        description="ROS 2 parameters file for the radar-camera rig",
    )
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([share, "launch", "depth_completion.launch.py"])),
        launch_arguments={"config": LaunchConfiguration("config")}.items(),
    )
    return LaunchDescription([config, include])
