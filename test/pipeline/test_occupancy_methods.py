"""The occupancy registry says what each method needs; the command line and the stereo node follow it."""

from depth_completion_ros.cli.occupancy import METHODS
from depth_completion_ros.pipeline.occupancy_methods import (
    NEEDS_LIDAR,
    OCCUPANCY_METHODS,
    TAKES_WEIGHTS,
    stereo_occupancy_methods,
)


def test_the_registry_knows_what_each_method_needs():
    assert set(METHODS) == set(OCCUPANCY_METHODS)  # dcr occupancy offers every registered method
    assert NEEDS_LIDAR == {"lidar"} and TAKES_WEIGHTS == {"learned", "occdepth"}
    assert stereo_occupancy_methods() == ("learned", "occdepth", "sgbm")
