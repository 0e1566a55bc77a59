"""A policy_node in another ROS_DOMAIN_ID: the simulated robot's bridge says once what to check (domain,
discovery range) instead of logging "no command" every control step (issue 15). Real processes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_bridge_names_the_domain_once_when_the_policy_is_elsewhere(ros_env, spawn_python, rclpy_init):
    from rclpy.executors import SingleThreadedExecutor

    from hgpt_msgs.msg import TrackingStatus

    other = {**ros_env, "ROS_DOMAIN_ID": str((int(ros_env["ROS_DOMAIN_ID"]) + 50) % 100 + 101)}
    policy = subprocess.Popen(
        [sys.executable, "-m", "hgpt_policy.policy_node", "--ros-args", "-p", "policy:=zero"],
        env=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    bridge = spawn_python("-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", "mode:=realtime")
    node = rclpy_init.create_node("status_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    status: list[TrackingStatus] = []
    node.create_subscription(TrackingStatus, "/hgpt/sim/status", status.append, 100)
    try:
        end = time.monotonic() + 90
        # 2 s of simulation time without a command: 100 control steps, each once a "no command" status
        while time.monotonic() < end and not any("no command for 2." in s.state for s in status):
            ex.spin_once(timeout_sec=0.1)
        assert any("no command for 2." in s.state for s in status), [s.state for s in status[-3:]]
        assert policy.poll() is None  # the policy runs, in its own domain
    finally:
        ex.shutdown()
        node.destroy_node()
        bridge.terminate()
        policy.terminate()
        out = bridge.communicate(timeout=20)[0]
        policy.communicate(timeout=20)
    assert sum("no command" in ln for ln in out.splitlines()) <= 2, out[-3000:]  # the change + the hint
    hints = [ln for ln in out.splitlines() if "no policy announced" in ln]
    assert len(hints) == 1, out[-3000:]
    assert f"same ROS_DOMAIN_ID (here {ros_env['ROS_DOMAIN_ID']})" in hints[0]
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE" in hints[0] and "(here LOCALHOST" in hints[0]
