"""The shared bag writer: a conversion stopped by Ctrl-C keeps a readable bag marked partial;
one stopped by an error leaves nothing."""

import numpy as np
import pytest

from depth_completion_ros.datasets.bag import Bag
from depth_completion_ros.datasets.bag_writer import ConversionPlan, Reading, partial_reason, write_plan
from depth_completion_ros.errors import BadInputError

TOPIC = "/tf"


def plan_stopped_by(error: BaseException, at: int, total: int = 5) -> ConversionPlan:
    """A plan of ``total`` /tf readings whose reading ``at`` raises ``error``."""
    def reading(k: int) -> Reading:
        def write(writer, stamp_ns):
            if k == at:
                raise error
            writer.write(TOPIC, writer.factory.tf([(np.eye(4), "odom", "base_link")], stamp_ns), stamp_ns)
        return Reading(1_000 + k, f"reading {k}", write)
    return ConversionPlan({TOPIC: "tf2_msgs/msg/TFMessage"}, [], [reading(k) for k in range(total)])


def test_an_interrupted_conversion_keeps_a_readable_bag_marked_partial(tmp_path):
    out = tmp_path / "bag"
    with pytest.raises(KeyboardInterrupt):
        write_plan(plan_stopped_by(KeyboardInterrupt(), at=3), out)
    assert partial_reason(out) == "stopped by KeyboardInterrupt after 4 messages"  # /tf_static + 3 readings
    with Bag(out) as bag:
        assert bag.topics[TOPIC][1] == 3


def test_a_failed_conversion_leaves_no_bag_and_a_complete_one_is_not_partial(tmp_path):
    with pytest.raises(BadInputError, match="reading 2"):
        write_plan(plan_stopped_by(OSError("unreadable"), at=2), tmp_path / "failed")
    assert not (tmp_path / "failed").exists()
    write_plan(plan_stopped_by(OSError(), at=-1), tmp_path / "complete")
    assert partial_reason(tmp_path / "complete") is None
