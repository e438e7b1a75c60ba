"""One loader for every YAML file: the file, the key and the problem in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from depth_completion_ros.config_files import check_mapping, load_yaml, ros_parameters
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.training.completion import TrainConfig

STAGE = "stages: [{name: s1, kind: completion, epochs: 2}]\nout: o\ncache: c\n"


@pytest.mark.parametrize(("text", "says"), [
    ("a: [1, 2\n", "malformed YAML at line 2, column 1"),
    ("- just\n- a list\n", "must hold a mapping of keys, not a list"),
    ("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n", "Git LFS pointer"),
])
def test_unusable_yaml_files_name_the_file_and_the_problem(tmp_path, text, says):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(BadInputError, match=says) as error:
        load_yaml(path, "training config")
    assert str(path) in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(BadInputError, match="nope.yaml: not found"):
        load_yaml(tmp_path / "nope.yaml", "rig file")


@pytest.mark.parametrize(("text", "key", "says"), [
    (STAGE + "batch_sise: 4\n", "batch_sise", "did you mean 'batch_size'"),
    (STAGE + "batch_size: four\n", "batch_size", "expected int, got 'four'"),
    (STAGE + "crop: [320]\n", "crop", r"expected tuple\[int, int\], got \[320\]"),
    ("stages: [{name: s1, kind: completion, epochs: two}]\nout: o\ncache: c\n", "stages[0]: epochs", "expected int"),
    ("out: o\ncache: c\n", "stages", "missing"),
])
def test_a_training_config_with_a_bad_key_names_it(tmp_path, text, key, says):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(BadInputError, match=says) as error:
        TrainConfig.load(path)
    assert f"{path}: {key}" in str(error.value)


def test_the_shipped_training_configs_pass_the_check():
    configs = sorted((Path(__file__).resolve().parents[1] / "config" / "train").glob("completion*.yaml"))
    assert configs
    for path in configs:
        TrainConfig.load(path)


def test_ros_parameters_layout_is_checked(tmp_path):
    assert ros_parameters({"depth_completion": {"ros__parameters": {"slop": 0.1}}}, "p.yaml", "depth_completion") == \
        {"slop": 0.1}
    assert ros_parameters({"/depth_completion": {"ros__parameters": {"a": 1}}}, "p.yaml", "depth_completion") == {"a": 1}
    assert ros_parameters({}, "p.yaml", "depth_completion") == {}
    with pytest.raises(BadInputError, match="p.yaml: depth_completion: must be a mapping with a 'ros__parameters'"):
        ros_parameters({"depth_completion": [1, 2]}, "p.yaml", "depth_completion")


def test_check_mapping_accepts_optional_and_union_fields():
    from dataclasses import dataclass

    @dataclass
    class Example:
        name: str
        size: float = 1.0
        cache: str | None = None
        model: str | dict = "small"

    check_mapping(Example, {"name": "x", "size": 2, "cache": None, "model": {"width": 4}}, "e.yaml")
    with pytest.raises(BadInputError, match="e.yaml: size: expected float, got True"):
        check_mapping(Example, {"name": "x", "size": True}, "e.yaml")
