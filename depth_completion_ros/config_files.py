"""One loader for every YAML file the package reads (node parameters, rigs, training and
evaluation configurations), and a typed check of a mapping against a dataclass.

Every problem is one :class:`~depth_completion_ros.errors.BadInputError` naming the file,
the key and the problem: a missing or unreadable file, malformed YAML (with its line and
column), a document of the wrong shape, an unknown key (with the known ones) or a value
of the wrong type.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import yaml

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.files import is_lfs_pointer, unreadable_reason


def load_yaml(path: str | Path, what: str) -> dict:
    """The mapping held by the YAML file ``path``; ``what`` names the kind of file in errors
    (e.g. "training config"). An empty file is an empty mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInputError(str(path), unreadable_reason(path, f"a YAML {what}")) from None
    if is_lfs_pointer(path):
        raise BadInputError(str(path), unreadable_reason(path, f"a YAML {what}"))
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise BadInputError(str(path), f"malformed YAML{where}: {problem} (a {what} must be valid YAML)") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise BadInputError(str(path), f"a {what} must hold a mapping of keys, not a {type(document).__name__}")
    return dict(document)


def ros_parameters(document: Mapping, path: str | Path, node: str) -> dict:
    """The ``ros__parameters`` mapping of ``node`` (or ``/node``) in a ROS 2 parameters
    file's ``document``; {} when the node is not in it."""
    section = document.get(node, document.get(f"/{node}"))
    if section is None:
        return {}
    if not isinstance(section, Mapping) or not isinstance(section.get("ros__parameters", {}), Mapping):
        raise BadInputError(f"{path}: {node}", "must be a mapping with a 'ros__parameters' mapping inside "
                                                "(the ROS 2 parameters file layout)")
    return dict(section.get("ros__parameters") or {})


def _matches(value: object, annotation: object) -> bool:
    """Whether ``value`` (as YAML gives it) fits the type ``annotation``."""
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list) or annotation in (tuple, list):
        if not isinstance(value, list | tuple):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if not args:
            return True
        if origin is tuple and Ellipsis not in typing.get_args(annotation) and len(args) != len(value):
            return False
        return all(_matches(item, args[0] if len(args) == 1 else arg) for item, arg in zip(value, args * len(value)))
    if origin is dict or annotation is dict:
        return isinstance(value, Mapping)
    if dataclasses.is_dataclass(annotation):
        return isinstance(value, Mapping)
    return True  # a type this check does not know: the dataclass itself decides


def _type_name(annotation: object) -> str:
    return str(annotation).replace("typing.", "") if not isinstance(annotation, type) else annotation.__name__


def check_mapping(cls: type, values: Mapping, where: str) -> None:
    """Raises BadInputError when ``values`` has a key that is not a field of dataclass
    ``cls`` or a value of the wrong type; nested dataclasses (and sequences of them) are
    checked too. ``where`` prefixes the key in the message (e.g. "train.yaml")."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key, value in values.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(names)}"
            raise BadInputError(f"{where}: {key}", f"unknown key{hint}")
        annotation = hints[key]
        if not _matches(value, annotation):
            raise BadInputError(f"{where}: {key}", f"expected {_type_name(annotation)}, got {value!r}")
        nested = [a for a in (annotation, *typing.get_args(annotation)) if dataclasses.is_dataclass(a)]
        if nested and isinstance(value, Mapping):
            check_mapping(nested[0], value, f"{where}: {key}")
        elif nested and isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    check_mapping(nested[0], item, f"{where}: {key}[{index}]")
