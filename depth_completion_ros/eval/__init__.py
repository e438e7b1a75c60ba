"""Evaluation: depth metrics and reports. Imports no ROS module."""
