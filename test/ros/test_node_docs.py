"""The README's node tables are generated from the nodes' own tables, and a node creates
exactly the topics its table lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import rclpy
from rclpy.parameter import Parameter

from depth_completion_ros.ros.depth_completion_node import DepthCompletionNode
from depth_completion_ros.ros.node_docs import BEGIN, END, node_markdown, nodes, updated_readme
from depth_completion_ros.ros.stereo_occupancy_node import StereoOccupancyNode

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_node_tables_are_up_to_date():
    text = README.read_text()
    assert updated_readme(text) == text, "README's 'Nodes' tables are out of date: run `.venv/bin/dcr info " \
                                         "--node-docs README.md`"


def test_every_parameter_and_topic_is_a_table_row():
    for node in nodes():
        section = node_markdown(node)
        for spec in node.parameters:
            assert f"| `{spec.name}` |" in section
        for topic in (*node.subscribed, *node.published):
            assert f"| `{topic.name}` | `{topic.msg_type}` |" in section
    assert updated_readme(f"a\n{BEGIN}\nold\n{END}\nb").startswith(f"a\n{BEGIN}")
    with pytest.raises(ValueError, match="no .* block"):
        updated_readme("no markers")


def _topics(node, endpoints) -> set[str]:
    return {endpoint.topic_name for endpoint in endpoints}


@pytest.mark.parametrize(("node_class", "overrides", "subscribed"), [
    (DepthCompletionNode, {"use_radar": True}, {"image", "camera_info", "lidar/points", "radar/points"}),
    (StereoOccupancyNode, {}, {"left/image_rect", "left/camera_info", "right/image_rect", "right/camera_info"}),
    (StereoOccupancyNode, {"source": "depth"}, {"depth", "depth/camera_info"}),
])
def test_a_node_creates_the_topics_of_its_table(ros_domain_id, node_class, overrides, subscribed):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = None
    try:
        node = node_class(context=context,
                          parameter_overrides=[Parameter(name, value=value) for name, value in overrides.items()])
        interface = next(n for n in nodes() if n.name == node.get_name())
        resolved = {name: node.resolve_topic_name(name) for name in
                    (t.name for t in (*interface.subscribed, *interface.published))}
        assert {resolved[name] for name in subscribed} == _topics(node, node.subscriptions) - {"/parameter_events"}
        assert {resolved[t.name] for t in interface.published} == \
            _topics(node, node.publishers) - {"/parameter_events", "/rosout"}
        assert subscribed <= {t.name for t in interface.subscribed}
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.shutdown(context=context)


def test_presets_set_only_known_parameters_and_never_restate_a_default():
    import yaml

    def flat(tree: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in tree.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    defaults = {node.name: {spec.name: spec.default for spec in node.parameters} for node in nodes()}
    presets = sorted((README.parent / "config").glob("*.yaml"))
    assert len(presets) >= 4
    for preset in presets:
        for node, section in yaml.safe_load(preset.read_text()).items():
            for name, value in flat(section["ros__parameters"]).items():
                assert name in defaults[node], f"{preset.name}: '{name}' is not a {node} parameter"
                assert value != defaults[node][name], f"{preset.name}: '{name}: {value}' restates the default"
