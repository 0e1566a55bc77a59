"""The one ``main()`` body every hgpt node shares (rclpy init, spin, clean shutdown on Ctrl-C / SIGTERM)."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(factory: Callable[[], Node], spin: Callable[[Node], None] = rclpy.spin, args=None) -> None:
    """Create the node, give it ``/diagnostics`` (:mod:`hgpt_ros.diagnostics`), spin it until shutdown,
    destroy it. ``with rclpy.init()`` needs Kilted: not used.

    An rcl error raised once the context is shut down (a timer's publish racing SIGTERM) ends the node with a
    one-line note, not a traceback; while the context is up, errors propagate."""
    from hgpt_ros.diagnostics import attach_diagnostics

    rclpy.init(args=args)
    node, name = None, "node"
    try:
        node = factory()
        name = node.get_name()
        attach_diagnostics(node)
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError as e:  # rclpy's RCLError: a callback's publish that raced SIGTERM's context shutdown
        if rclpy.ok():
            raise
        print(f"{name}: shut down during a callback ({str(e).splitlines()[0][:200]})", flush=True)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
