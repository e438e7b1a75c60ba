"""Imports point down the layers of ../shared/DESIGN.md, and nothing below ``ros/`` imports ROS.

Every ``import`` in the package counts, also those inside functions (a lazy import is still
a dependency). The order, top first::

    cli/                    command line: its commands call eval/ and ros/
    ros/                    thin ROS 2 edge
    eval/ training/         metrics, reports, offline bag evaluation; the trainers
    pipeline/               one frame in, results out
    models/                 nn.Modules, losses, checkpoints, inference
    sim/                    simulator (it records through datasets/' writers)
    datasets/               data set and bag readers and writers
    geometry/ stereo/       cameras, transforms, voxel grids; stereo matching
    (package root modules)  errors, files, resources, config_files: any layer may use them
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "depth_completion_ros"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
LAYERS = {
    "cli": 8, "launch_description": 7, "ros": 7, "eval": 6, "training": 6, "pipeline": 5, "models": 4,
    "sim": 3, "datasets": 2, "geometry": 1, "stereo": 1,
    "errors": 0, "files": 0, "resources": 0, "config_files": 0, "__init__": 0, "weights": 0,
}
ROS_LAYER = LAYERS["ros"]
# resources.share_dir is the one place that finds the installed data files: it asks ament
# first when a ROS workspace is sourced (the import is guarded), then looks beside the module
ROS_IMPORT_ALLOWED = {("resources", "ament_index_python")}


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one source file."""
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _violations(ros_modules: frozenset[str]) -> list[str]:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        own = _layer_of(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        if own not in LAYERS:
            problems.append(f"{path.relative_to(ROOT.parent)}: package '{own}' has no layer in this test")
            continue
        for line, name in _imported(path):
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            top = name.split(".")[0]
            if top == PACKAGE:
                target = _layer_of(name)
                if LAYERS.get(target, 0) > LAYERS[own]:
                    problems.append(f"{where}: {own} imports {name} from a layer above")
            elif top in ros_modules and LAYERS[own] < ROS_LAYER and (own, top) not in ROS_IMPORT_ALLOWED:
                problems.append(f"{where}: {own} is below ros/ and imports the ROS module {name}")
    return problems


def test_every_import_points_down_the_layers(ros_modules):
    problems = _violations(ros_modules)
    assert not problems, "\n".join(problems)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch, ros_modules):
    fake = tmp_path / PACKAGE
    (fake / "geometry").mkdir(parents=True)
    (fake / "geometry" / "bad.py").write_text("def f():\n    from depth_completion_ros.ros import qos\n    import rclpy\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    assert [problem.split(": ", 1)[1] for problem in _violations(ros_modules)] == [
        "geometry imports depth_completion_ros.ros from a layer above",
        "geometry is below ros/ and imports the ROS module rclpy"]
