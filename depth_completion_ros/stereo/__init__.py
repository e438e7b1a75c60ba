"""Stereo matching (ROS-free): rectification, semi-global matching, disparity to depth."""
