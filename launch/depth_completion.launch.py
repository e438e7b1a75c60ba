"""Camera + LiDAR (+ radar) -> dense metric depth.

    ros2 launch depth_completion_ros depth_completion.launch.py \
        image:=/camera/image_rect camera_info:=/camera/camera_info lidar_points:=/velodyne_points

Arguments: namespace, config (ROS 2 parameters file), use_sim_time, device, and the input
topic remappings image, camera_info, lidar_points, radar_points. Sets
FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA unless the environment already sets it.
"""

from depth_completion_ros.launch_description import node_launch_description

INPUTS = {"image": "image", "camera_info": "camera_info", "lidar_points": "lidar/points", "radar_points": "radar/points"}


def generate_launch_description():
    return node_launch_description(executable="depth_completion_node", name="depth_completion",
                                   config="depth_completion.yaml", inputs=INPUTS)
