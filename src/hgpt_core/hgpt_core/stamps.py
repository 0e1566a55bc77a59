"""ROS time stamps as plain numbers: anything with ``sec`` and ``nanosec`` (builtin_interfaces/Time)."""

from __future__ import annotations

from typing import Protocol


class Stamp(Protocol):
    """Anything with ROS time fields (builtin_interfaces/Time, a header stamp)."""

    sec: int
    nanosec: int


def stamp_to_sec(stamp: Stamp) -> float:
    """Stamp -> seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def stamp_to_ns(stamp: Stamp) -> int:
    """Stamp -> integer nanoseconds (exact: lock-step matches stamps by equality)."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def sec_to_sec_nanosec(t: float) -> tuple[int, int]:
    """Seconds -> (sec, nanosec), rounded to the nanosecond with the carry into ``sec``."""
    sec, nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)
    return sec, nanosec
