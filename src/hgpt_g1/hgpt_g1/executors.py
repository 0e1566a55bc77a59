"""Spinning the 500 Hz nodes: rclpy's EventsExecutor, stoppable by SIGINT/SIGTERM."""

from __future__ import annotations

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node


def spin(node: Node, kind: str = "events") -> None:
    """Spin ``node`` until shutdown with the ``events`` (EventsExecutor) or ``single`` executor.

    EventsExecutor dispatches from a C++ event queue instead of rebuilding a wait set per callback in
    Python (a large share of the CPU at 500 Hz, benchmarks/bench_g1.py), but its blocking ``spin()`` does
    not notice rclpy's signal handlers: spinning in bounded slices lets Ctrl-C / SIGTERM raise
    ExternalShutdownException, as ``rclpy.spin`` does.
    """
    executor = EventsExecutor() if kind == "events" else SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except RCLError:
                if rclpy.ok():
                    raise
                # a callback raced the shutdown (publisher of a shut-down context): we are stopping anyway
    finally:
        executor.remove_node(node)
