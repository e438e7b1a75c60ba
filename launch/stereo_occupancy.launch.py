"""Rectified stereo pair -> disparity, depth and voxel occupancy (points, markers, Nav2 grid).

    ros2 launch depth_completion_ros stereo_occupancy.launch.py \
        left_image:=/stereo/left/image_rect left_camera_info:=/stereo/left/camera_info \
        right_image:=/stereo/right/image_rect right_camera_info:=/stereo/right/camera_info

Arguments: namespace, config (ROS 2 parameters file), use_sim_time, device, and the input
topic remappings. Sets FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA unless already set.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

INPUTS = {"left_image": "left/image_rect", "left_camera_info": "left/camera_info",
          "right_image": "right/image_rect", "right_camera_info": "right/camera_info"}


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument(
            "config",
            default_value=PathJoinSubstitution([FindPackageShare("depth_completion_ros"), "config", "stereo_occupancy.yaml"]),
            description="ROS 2 parameters file (see config/)",
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock (bag replay)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu or cuda"),
    ]
    arguments += [
        DeclareLaunchArgument(name, default_value=topic, description=f"topic remapped to the node's '{topic}'")
        for name, topic in INPUTS.items()
    ]
    node = Node(
        package="depth_completion_ros",
        executable="stereo_occupancy_node",
        name="stereo_occupancy",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("config"),
            {
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
                "device": LaunchConfiguration("device"),
            },
        ],
        remappings=[(topic, LaunchConfiguration(name)) for name, topic in INPUTS.items()],
        output="screen",
        emulate_tty=True,
    )
    large_data = SetEnvironmentVariable(
        "FASTDDS_BUILTIN_TRANSPORTS", EnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", default_value="LARGE_DATA")
    )
    return LaunchDescription([large_data, *arguments, node])
