"""Spinning the 500 Hz nodes: rclpy's EventsExecutor, stoppable by SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node


def spin(node: Node, kind: str = "events") -> None:
    """Spin ``node`` until shutdown or Ctrl-C with the ``events`` (EventsExecutor) or ``single`` executor.

    EventsExecutor dispatches from a C++ event queue instead of rebuilding a wait set per callback in
    Python (a large share of the CPU at 500 Hz, benchmarks/bench_g1.py), but its blocking ``spin()`` does
    not notice rclpy's signal handlers: spinning in bounded slices (0.1 s) lets SIGTERM end it
    (ExternalShutdownException, as ``rclpy.spin`` does). SIGINT only sets a flag that the loop checks:
    Python's default handler raises KeyboardInterrupt wherever the main thread is, usually inside a
    callback run by the C++ executor, which logs it as ``[FATAL] Exception in '...' callback`` with a
    traceback (issue 15; tests/integration/test_sigint_clean.py).
    """
    executor = EventsExecutor() if kind == "events" else SingleThreadedExecutor()
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    executor.add_node(node)
    try:
        while rclpy.ok() and not stop.is_set():
            try:
                executor.spin_once(timeout_sec=0.1)
            except RCLError:
                if rclpy.ok():
                    raise
                # a callback raced the shutdown (publisher of a shut-down context): we are stopping anyway
    finally:
        executor.remove_node(node)
