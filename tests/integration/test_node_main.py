"""hgpt_ros.node_main.run_node: how every hgpt node's process ends."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ros


def _failing_spin(shutdown_first: bool):
    def spin(node) -> None:
        import rclpy
        from rclpy._rclpy_pybind11 import RCLError

        if shutdown_first:
            rclpy.shutdown()  # what rclpy's SIGTERM handler does while a callback runs
        raise RCLError("Failed to publish: publisher's context is invalid")

    return spin


def test_a_publish_racing_the_shutdown_ends_the_node_without_a_traceback(ros_env, capsys) -> None:
    import rclpy

    from hgpt_ros.node_main import run_node

    run_node(lambda: rclpy.create_node("racing_shutdown"), spin=_failing_spin(shutdown_first=True))
    assert "racing_shutdown: shut down during a callback (Failed to publish" in capsys.readouterr().out
    assert not rclpy.ok()


def test_an_rcl_error_while_running_still_propagates(ros_env) -> None:
    import rclpy
    from rclpy._rclpy_pybind11 import RCLError

    from hgpt_ros.node_main import run_node

    with pytest.raises(RCLError, match="context is invalid"):
        run_node(lambda: rclpy.create_node("failing"), spin=_failing_spin(shutdown_first=False))
    assert not rclpy.ok()  # shut down all the same
