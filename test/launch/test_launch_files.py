"""Launch files and configs: `launch` is not installable here, so check what can be checked.

Every launch file compiles; every executable it starts is a console script of setup.py;
every config/launch file it refers to exists; every parameter it sets and every key of
every config file is a parameter the node declares; every remapped topic is an input of
the node.
"""

import ast
from pathlib import Path

import pytest
import yaml

from depth_completion_ros.cli.run import NODES
from depth_completion_ros.ros import depth_completion_node, stereo_occupancy_node

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
CONFIG_FILES = sorted((REPO / "config").glob("*.yaml"))
NODE_SPECS = {"depth_completion": depth_completion_node.PARAMETERS, "stereo_occupancy": stereo_occupancy_node.PARAMETERS}
NODE_PARAMETERS = {name: {spec.name for spec in specs} | {"use_sim_time"} for name, specs in NODE_SPECS.items()}
NODE_INPUTS = {
    "depth_completion": set(depth_completion_node.INPUT_TOPICS),
    "stereo_occupancy": {"left/image_rect", "left/camera_info", "right/image_rect", "right/camera_info", "depth",
                         "depth/camera_info"},
}


def console_scripts() -> set[str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    scripts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value and ":" in node.value:
            scripts.add(node.value.split(" = ")[0])
    return scripts


def keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def flatten(prefix: str, value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(flatten(f"{prefix}{k}.", v) for k, v in value.items())) if value else set()
    return {prefix[:-1]}


def test_there_are_launch_files_for_the_nodes():
    assert {p.name for p in LAUNCH_FILES} == {"depth_completion.launch.py", "radar_camera.launch.py",
                                             "stereo_occupancy.launch.py", "perception.launch.py"}


HELPER = REPO / "depth_completion_ros" / "launch_description.py"


def helper_arguments() -> set[str]:
    """Launch arguments node_launch_description declares for every node."""
    tree = ast.parse(HELPER.read_text())
    return {c.args[0].value for c in calls(tree, "DeclareLaunchArgument") if isinstance(c.args[0], ast.Constant)}


def test_shared_node_description_compiles_and_sets_only_declared_parameters():
    source = HELPER.read_text()
    compile(source, str(HELPER), "exec")
    tree = ast.parse(source)
    assert "FASTDDS_BUILTIN_TRANSPORTS" in source
    assert helper_arguments() >= {"namespace", "config", "use_sim_time", "device"}
    for params in ast.walk(keyword(calls(tree, "Node")[0], "parameters")):
        if isinstance(params, ast.Dict):
            for key in params.keys:
                for name, declared in NODE_PARAMETERS.items():
                    assert key.value in declared, f"'{key.value}' is not a parameter of {name}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_compiles_and_references_exist(path):
    source = path.read_text()
    compile(source, str(path), "exec")
    tree = ast.parse(source)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    started = []
    for call in calls(tree, "node_launch_description"):
        executable = keyword(call, "executable").value
        assert executable in console_scripts(), f"{path.name} starts '{executable}', not a console script"
        name = keyword(call, "name").value
        assert name in NODE_PARAMETERS, f"unknown node name {name}"
        assert (REPO / "config" / keyword(call, "config").value).is_file()
        started.append(name)
    inputs = next((n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "INPUTS"), None)
    if inputs is not None:
        assert len(started) == 1
        for topic in ast.literal_eval(inputs).values():
            assert topic in NODE_INPUTS[started[0]], f"{path.name} remaps '{topic}', not a node input"
    for join in calls(tree, "PathJoinSubstitution"):
        parts = [e.value for e in join.args[0].elts if isinstance(e, ast.Constant)]
        if len(parts) < len(join.args[0].elts) - 1:
            continue  # a path built from a variable (checked where that variable is defined)
        assert (REPO.joinpath(*parts)).is_file(), f"{path.name} refers to {'/'.join(parts)}, which does not exist"
    assert started or calls(tree, "IncludeLaunchDescription")


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_keys_are_declared_parameters(path):
    document = yaml.safe_load(path.read_text())
    for node_name, body in document.items():
        assert node_name in NODES and node_name in NODE_PARAMETERS, f"{path.name}: unknown node {node_name}"
        keys = flatten("", body["ros__parameters"])
        unknown = keys - NODE_PARAMETERS[node_name]
        assert not unknown, f"{path.name}: {sorted(unknown)} are not parameters of {node_name}"
        for spec in NODE_SPECS[node_name]:
            value = body["ros__parameters"]
            for part in spec.name.split("."):
                value = value.get(part, {}) if isinstance(value, dict) else value
            if value != {}:
                assert spec.problem(value) is None, f"{path.name}: {spec.name}: {spec.problem(value)}"


def test_perception_launch_passes_arguments_the_included_files_declare():
    def declared(name: str) -> set[str]:
        tree = ast.parse((REPO / "launch" / name).read_text())
        names = helper_arguments() if calls(tree, "node_launch_description") else set()
        inputs = next((n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "INPUTS"), None)
        return names | (set(ast.literal_eval(inputs)) if inputs is not None else set())

    tree = ast.parse((REPO / "launch" / "perception.launch.py").read_text())
    constants = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
                 if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)}
    depth, stereo = declared("depth_completion.launch.py"), declared("stereo_occupancy.launch.py")
    assert set(constants["SHARED"]) <= depth & stereo
    assert set(constants["DEPTH_INPUTS"]) <= depth and set(constants["STEREO_INPUTS"]) <= stereo
    assert "config" in depth and "config" in stereo


def test_rviz_config_shows_the_published_topics():
    rviz = yaml.safe_load((REPO / "rviz" / "perception.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/depth", "/depth/points", "/occupancy/points", "/occupancy/markers", "/occupancy/grid", "/image"} <= topics
