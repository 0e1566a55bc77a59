"""Dataclass <-> ROS parameters: one parameter per field, read once at start-up."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal after each field) of a dataclass, by field name."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    docs, body = {}, tree.body[0].body  # type: ignore[attr-defined]
    for a, b in zip(body, body[1:], strict=False):
        if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
            docs[a.target.id] = str(b.value.value)  # type: ignore[union-attr]
    return docs


def declare_dataclass(
    node: Node, cls: type[T], prefix: str = "", read_only: bool = True, **defaults: Any
) -> T:
    """Declare ``prefix + field`` per field of the frozen dataclass ``cls``; build it from the values."""
    docs = field_docs(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = defaults.get(f.name, f.default)
        desc = ParameterDescriptor(description=docs.get(f.name, ""), read_only=read_only)
        values[f.name] = node.declare_parameter(prefix + f.name, default, desc).value
    return cls(**values)
