"""One frame in, results out: synchronization, projection, completion, occupancy. No ROS."""
