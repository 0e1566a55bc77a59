"""Fill every field of a ROS message with distinct non-default values; compare two messages field by field.

Used by the message tests and by echo_peer.py (which runs as a script, so this is a plain module).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator

import numpy as np
from rosidl_parser.definition import (
    AbstractNestedType,
    AbstractString,
    AbstractWString,
    Array,
    BasicType,
    NamespacedType,
)

_INT_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "char": (0, 255),
    "octet": (0, 255),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 999_999_999),  # also a valid builtin_interfaces/Time.nanosec
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
SEQUENCE_LEN = 3


def message_class(t: NamespacedType) -> type:
    return getattr(importlib.import_module(".".join(t.namespaces)), t.name)


def _scalar(t: BasicType, rng: random.Random):
    name = t.typename
    if name == "boolean":
        return True  # the default is False
    if name in ("float", "double"):
        # Multiples of 1/1024 in +-[1, 100]: exact in float32 too, never 0 (the default).
        return rng.choice((-1, 1)) * rng.randint(1024, 102_400) / 1024
    low, high = _INT_RANGES[name]
    return rng.randint(max(low, 1), high)


def _value(t, rng: random.Random):
    if isinstance(t, AbstractNestedType):
        n = t.size if isinstance(t, Array) else SEQUENCE_LEN
        values = [_value(t.value_type, rng) for _ in range(n)]
        if isinstance(t.value_type, BasicType) and t.value_type.typename in ("float", "double"):
            dtype = np.float32 if t.value_type.typename == "float" else np.float64
            return np.asarray(values, dtype=dtype) if isinstance(t, Array) else values
        return values
    if isinstance(t, (AbstractString, AbstractWString)):
        return f"s{rng.randint(0, 10**6)}"
    if isinstance(t, NamespacedType):
        return filled(message_class(t), rng)
    if isinstance(t, BasicType):
        return _scalar(t, rng)
    raise TypeError(f"unsupported field type {t!r}")


def filled(cls: type, rng: random.Random | None = None):
    """An instance of message class `cls` whose every field (recursively) differs from its default."""
    rng = rng or random.Random(0)
    msg = cls()
    for name, t in zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True):
        setattr(msg, name, _value(t, rng))
    return msg


def leaf_fields(msg, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted path, value) for every leaf field; sequences of messages are indexed: `positions[1].x`."""
    for name, t in zip(msg.get_fields_and_field_types(), msg.SLOT_TYPES, strict=True):
        value = getattr(msg, name)
        path = f"{prefix}{name}"
        inner = t.value_type if isinstance(t, AbstractNestedType) else t
        if isinstance(inner, NamespacedType):
            items = value if isinstance(t, AbstractNestedType) else [value]
            for i, item in enumerate(items):
                sub = f"{path}[{i}]." if isinstance(t, AbstractNestedType) else f"{path}."
                yield from leaf_fields(item, sub)
        elif isinstance(t, AbstractNestedType):
            yield path, value.tolist() if isinstance(value, np.ndarray) else list(value)
        else:
            yield path, value


def field_differences(expected, actual) -> list[str]:
    """Human-readable differences between two messages of the same type ([] if equal)."""
    exp, act = dict(leaf_fields(expected)), dict(leaf_fields(actual))
    diffs = [
        f"{path}: expected {exp[path]!r}, got {act.get(path)!r}" for path in exp if act.get(path) != exp[path]
    ]
    diffs += [f"{path}: unexpected" for path in act if path not in exp]
    return diffs
