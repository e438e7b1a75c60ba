"""One frame in, results out: completion engine, classical completion. Imports no ROS module."""
