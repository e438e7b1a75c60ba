"""Rectified stereo pair -> disparity, depth and voxel occupancy (points, markers, Nav2 grid).

    ros2 launch depth_completion_ros stereo_occupancy.launch.py \
        left_image:=/stereo/left/image_rect left_camera_info:=/stereo/left/camera_info \
        right_image:=/stereo/right/image_rect right_camera_info:=/stereo/right/camera_info

Arguments: namespace, config (ROS 2 parameters file), use_sim_time, device, and the input
topic remappings. Sets FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA unless already set.
"""

from depth_completion_ros.launch_description import node_launch_description

INPUTS = {"left_image": "left/image_rect", "left_camera_info": "left/camera_info",
          "right_image": "right/image_rect", "right_camera_info": "right/camera_info"}


def generate_launch_description():
    return node_launch_description(executable="stereo_occupancy_node", name="stereo_occupancy",
                                   config="stereo_occupancy.yaml", inputs=INPUTS)
