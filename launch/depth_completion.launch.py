"""Camera + LiDAR (+ radar) -> dense metric depth.

    ros2 launch depth_completion_ros depth_completion.launch.py \
        image:=/camera/image_rect camera_info:=/camera/camera_info lidar_points:=/velodyne_points

Arguments: namespace, config (ROS 2 parameters file), use_sim_time, device, and the input
topic remappings image, camera_info, lidar_points, radar_points. Sets
FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA unless the environment already sets it.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

INPUTS = {"image": "image", "camera_info": "camera_info", "lidar_points": "lidar/points", "radar_points": "radar/points"}


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument(
            "config",
            default_value=PathJoinSubstitution([FindPackageShare("depth_completion_ros"), "config", "depth_completion.yaml"]),
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
        executable="depth_completion_node",
        name="depth_completion",
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
