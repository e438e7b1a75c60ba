"""Launch description of one package node, shared by the files in ``launch/``.

Imports ROS 2 ``launch`` / ``launch_ros``, so it is only imported by launch files running
under ``ros2 launch`` (those packages are not on PyPI).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "depth_completion_ros"


def node_launch_description(executable: str, name: str, config: str, inputs: dict[str, str]) -> LaunchDescription:
    """One node with the package's standard launch arguments.

    Args:
        executable: console script of the node.
        name: node name (the key of its parameters file).
        config: default parameters file under ``share/<package>/config``.
        inputs: launch argument name -> the node's input topic it remaps.

    Arguments declared: namespace, config, use_sim_time, device, and one per input. Sets
    FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA unless the environment already sets it (large
    images and clouds lose UDP fragments with the default transports).
    """
    arguments = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", config]),
                              description="ROS 2 parameters file (see config/)"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock (bag replay)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu or cuda"),
    ]
    arguments += [DeclareLaunchArgument(argument, default_value=topic, description=f"topic remapped to '{topic}'")
                  for argument, topic in inputs.items()]
    node = Node(
        package=PACKAGE,
        executable=executable,
        name=name,
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("config"),
            {
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
                "device": LaunchConfiguration("device"),
            },
        ],
        remappings=[(topic, LaunchConfiguration(argument)) for argument, topic in inputs.items()],
        output="screen",
        emulate_tty=True,
    )
    large_data = SetEnvironmentVariable(
        "FASTDDS_BUILTIN_TRANSPORTS", EnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", default_value="LARGE_DATA")
    )
    return LaunchDescription([large_data, *arguments, node])
