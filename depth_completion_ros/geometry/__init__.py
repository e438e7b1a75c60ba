"""Camera models, rigid transforms, projection and calibration files. No ROS imports."""
