"""depth_completion_ros: depth completion and stereo occupancy for ROS 2.

Layers (dependencies point downwards only; see ../shared/DESIGN.md):
``ros`` > ``cli``/``eval`` > ``pipeline`` > ``models`` > ``sim``/``datasets`` > ``geometry``.
Everything below ``ros`` imports no ROS module.
"""

__version__ = "0.1.0"
