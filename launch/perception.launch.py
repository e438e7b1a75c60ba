"""Everything: depth completion (camera + LiDAR [+ radar]) and stereo occupancy.

    ros2 launch depth_completion_ros perception.launch.py image:=/camera/left/image_rect ...

Includes depth_completion.launch.py and stereo_occupancy.launch.py and passes every
argument on (namespace, use_sim_time, device, the input remappings; per-node config files
as depth_config and occupancy_config).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

SHARED = ("namespace", "use_sim_time", "device")
DEPTH_INPUTS = ("image", "camera_info", "lidar_points", "radar_points")
STEREO_INPUTS = ("left_image", "left_camera_info", "right_image", "right_camera_info")


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("depth_completion_ros")
    arguments = [
        DeclareLaunchArgument("depth_config", default_value=PathJoinSubstitution([share, "config", "depth_completion.yaml"]),
                              description="parameters file of the depth-completion node"),
        DeclareLaunchArgument("occupancy_config",
                              default_value=PathJoinSubstitution([share, "config", "stereo_occupancy.yaml"]),
                              description="parameters file of the stereo occupancy node"),
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("use_sim_time", default_value="false"),
        DeclareLaunchArgument("device", default_value="auto"),
    ]
    defaults = {"image": "image", "camera_info": "camera_info", "lidar_points": "lidar/points",
                "radar_points": "radar/points", "left_image": "left/image_rect", "left_camera_info": "left/camera_info",
                "right_image": "right/image_rect", "right_camera_info": "right/camera_info"}
    arguments += [DeclareLaunchArgument(name, default_value=topic) for name, topic in defaults.items()]

    def include(file: str, config: str, inputs: tuple[str, ...]) -> IncludeLaunchDescription:
        passed = {name: LaunchConfiguration(name) for name in (*SHARED, *inputs)}
        passed["config"] = LaunchConfiguration(config)
        return IncludeLaunchDescription(PythonLaunchDescriptionSource(PathJoinSubstitution([share, "launch", file])),
                                        launch_arguments=passed.items())

    return LaunchDescription([
        *arguments,
        include("depth_completion.launch.py", "depth_config", DEPTH_INPUTS),
        include("stereo_occupancy.launch.py", "occupancy_config", STEREO_INPUTS),
    ])
