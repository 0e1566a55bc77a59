"""The one ``main()`` body every hgpt node shares (rclpy init, spin, clean shutdown on Ctrl-C / SIGTERM)."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(factory: Callable[[], Node], spin: Callable[[Node], None] = rclpy.spin, args=None) -> None:
    """Create the node, give it ``/diagnostics`` (:mod:`hgpt_ros.diagnostics`), spin it until shutdown,
    destroy it. ``with rclpy.init()`` needs Kilted: not used."""
    from hgpt_ros.diagnostics import attach_diagnostics

    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        attach_diagnostics(node)
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
