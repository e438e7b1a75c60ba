"""Synthetic world and sensor simulator (no ROS imports).

The data engine of the package: procedural street and indoor worlds rendered, by
open3d ray casting (Embree), into every sensor the package consumes and the ground
truth it is scored against.

Modules:

* :mod:`.world` — seeded procedural worlds of convex, labelled, textured meshes; ego
  trajectory; dynamic objects with velocities.
* :mod:`.labels` — class ids (SemanticKITTI raw ids outdoors, a documented indoor set).
* :mod:`.rig` — the sensor rig from YAML/dict (built-ins ``kitti``, ``nuscenes`` in
  ``config/rigs``).
* :mod:`.camera` — RGB, z-depth, semantic and instance images; stereo disparity.
* :mod:`.lidar` — spinning LiDAR beam models (HDL-64E, HDL-32E, VLP-32C, VLP-16,
  OS1-128), noise, dropout, intensity: (N, 5) x, y, z, intensity, ring.
* :mod:`.radar` — nuScenes-like sparse radar returns with RCS, radial velocity, ghosts.
* :mod:`.occupancy` — voxel class ground truth and visibility (invalid) mask.
* :mod:`.lidar_from_depth` — DMD3C stage 1: a LiDAR scan simulated from any dense depth map.
* :mod:`.simulator` — :class:`Simulator` and :class:`SimulatedFrame`, all sensors at a time.
* :mod:`.dataset` — a seeded torch ``Dataset`` generating frames on the fly.
* :mod:`.recording` — writers: ROS 2 MCAP bag (rosbags) and the KITTI depth-completion layout.
"""

from depth_completion_ros.sim.simulator import SimulatedFrame, Simulator

__all__ = ["SimulatedFrame", "Simulator"]
