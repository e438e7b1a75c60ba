"""Readers and writers for data sets and recordings (KITTI, nuScenes, bags). No ROS imports."""
