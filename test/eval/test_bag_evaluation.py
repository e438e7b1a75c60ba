"""``eval/bag_evaluation.py``: the options a ``dcr eval`` call turns into the node's parameters; no ROS needed."""

from __future__ import annotations

import json

from depth_completion_ros.eval.bag_evaluation import EvalOptions
from depth_completion_ros.pipeline.engine import DEFAULT_METHOD
from depth_completion_ros.pipeline.node_config import NODE_DEFAULTS


def test_an_evaluation_without_a_lidar_topic_is_a_radar_camera_rig():
    options = EvalOptions(lidar=None, radar="/radar/points", node_params={"slop": 0.1, "method": "radar"})
    assert options.params["use_lidar"] is False and options.params["use_radar"] is True
    assert options.pivot == options.image and options.params["slop"] == 0.1
    assert options.params["max_depth"] == NODE_DEFAULTS["max_depth"]
    configured_off = EvalOptions(radar="/radar/points", node_params={"use_lidar": False})
    assert configured_off.pivot == configured_off.image
    assert EvalOptions().pivot == "/lidar/points" and EvalOptions().params["method"] == DEFAULT_METHOD


# Run in a fresh interpreter where every ROS package fails to import, as on a machine
# without a ROS installation (the ROS wheels are installed in this venv).
_WITHOUT_ROS = """
import importlib.abc, sys
ROS = {ros}
class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ROS:
            raise ModuleNotFoundError(f"No module named '{{name}}' (hidden by the test)", name=name)
        return None
sys.meta_path.insert(0, NoRos())
from depth_completion_ros.cli.main import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ROS)
print("ROS modules loaded:", loaded)
sys.exit(code)
"""


def test_offline_evaluation_runs_without_any_ros_package(sim_bag, tmp_path, ros_modules):
    import subprocess
    import sys

    script = _WITHOUT_ROS.format(ros=sorted(ros_modules))
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-c", script, "eval", str(sim_bag), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "ROS modules loaded: []" in done.stdout
    row = json.loads((out / "metrics.json").read_text())["summary"][0]
    assert row["method"] == "classical" and row["frames"] == 6 and 0 < row["rmse_mm"] < 20_000
