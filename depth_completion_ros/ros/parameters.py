"""Declaring node parameters from one table, with descriptors, ranges and runtime rules.

Each :class:`ParameterSpec` names a parameter, its default (which fixes its type), a
description, an optional numeric range or list of choices, and whether a running node may
change it. :func:`declare_all` declares them; :func:`check_update` is the
``add_on_set_parameters_callback`` rule that rejects unsafe runtime changes with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default, description and rules."""

    name: str
    default: object
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    runtime: bool = True
    array_type: int | None = None  # ParameterType.*_ARRAY for list parameters

    def descriptor(self) -> ParameterDescriptor:
        text = self.description + (f" One of: {', '.join(self.choices)}." if self.choices else "")
        descriptor = ParameterDescriptor(
            name=self.name,
            type=self.array_type or _TYPES[type(self.default)],
            description=text,
            read_only=False,
            additional_constraints="" if self.runtime else "Fixed at start-up.",
            dynamic_typing=False,
        )
        if self.low is not None and isinstance(self.default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=self.low, to_value=self.high, step=0.0)]
        elif self.low is not None and isinstance(self.default, int) and not isinstance(self.default, bool):
            descriptor.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)]
        return descriptor

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.choices and value not in self.choices:
            return f"'{value}' is not one of {', '.join(self.choices)}"
        if self.low is not None and not isinstance(value, (list, tuple, str, bool)) and not self.low <= value <= self.high:
            return f"{value} is outside [{self.low}, {self.high}]"
        return None


def declare_all(node: Node, specs: Sequence[ParameterSpec]) -> dict[str, object]:
    """Declare every parameter (overrides from YAML/launch apply) and return the values.

    Raises:
        ValueError: a start-up value outside its range or choices, naming the parameter.
    """
    values = {}
    for spec in specs:
        # An empty list has no type of its own: declare list parameters by type (unset).
        default = Parameter.Type(spec.array_type) if spec.array_type and not spec.default else spec.default
        value = node.declare_parameter(spec.name, default, spec.descriptor()).value
        if value is None:
            value = []
        problem = spec.problem(value)
        if problem:
            raise ValueError(f"parameter '{spec.name}': {problem}")
        values[spec.name] = value
    return values


def check_update(specs: Iterable[ParameterSpec], parameters: Sequence[Parameter]) -> SetParametersResult:
    """Accept a runtime change only for runtime-safe parameters with valid values."""
    by_name = {spec.name: spec for spec in specs}
    for param in parameters:
        spec = by_name.get(param.name)
        if spec is None:
            continue
        if not spec.runtime:
            return SetParametersResult(
                successful=False, reason=f"'{param.name}' is fixed at start-up; restart the node to change it"
            )
        problem = spec.problem(param.value)
        if problem:
            return SetParametersResult(successful=False, reason=f"'{param.name}': {problem}")
    return SetParametersResult(successful=True)
