"""The thin ROS 2 edge: message <-> numpy conversion, nodes, QoS, diagnostics."""
