"""Two real processes over DDS: sim_bridge_node (lock-step MuJoCo) and policy_node, driven from the test."""

import time

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _spin_until(executor, pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
        if pred():
            return True
    return False


def test_policy_ramps_sim_robot_then_fall_detector_damps(spawn_python, rclpy_init):
    rclpy = rclpy_init
    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import JointCommand, RobotState, TrackingStatus
    from hgpt_msgs.srv import SetMode

    sim = spawn_python("-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", "mode:=lockstep")
    pol = spawn_python(
        "-m", "hgpt_policy.policy_node", "--ros-args",
        "-p", "policy:=zero", "-p", "trigger:=state", "-p", "use_sim_time:=true",
        "-p", "safety.stand_ramp_s:=1.0",
    )  # fmt: skip
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    node = rclpy.create_node("graph_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    states: list[RobotState] = []
    status: list[TrackingStatus] = []
    commands: list[JointCommand] = []
    node.create_subscription(JointCommand, "/hgpt/joint_command", commands.append, 50)
    node.create_subscription(RobotState, "/hgpt/robot_state", states.append, qos_profile_sensor_data)
    node.create_subscription(TrackingStatus, "/hgpt/status", status.append, 50)
    client = node.create_client(SetMode, "/hgpt/set_mode")
    try:
        assert client.wait_for_service(timeout_sec=30), "policy_node did not come up"
        assert _spin_until(ex, lambda: len(status) > 3 and len(states) > 3, 20), "no state/status flowing"
        assert status[-1].mode == TrackingStatus.MODE_DAMP  # starts damped

        refused = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_TRACK))
        assert _spin_until(ex, refused.done, 10)
        assert not refused.result().success and "STAND" in refused.result().message

        fut = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_STAND))
        assert _spin_until(ex, fut.done, 10) and fut.result().success
        t0 = states[-1].header.stamp.sec + 1e-9 * states[-1].header.stamp.nanosec

        def ramped() -> bool:
            t = states[-1].header.stamp.sec + 1e-9 * states[-1].header.stamp.nanosec
            return t - t0 > 1.2 and status[-1].state == "standing"

        assert _spin_until(ex, ramped, 60), f"no stand: {status[-1].state if status else None}"
        np.testing.assert_allclose(
            commands[-1].q, KNEES_BENT_POSE, atol=1e-9
        )  # ramp ends at the default pose
        assert commands[-1].mode == JointCommand.MODE_STAND and max(commands[-1].kp) > 0
        ticks = [s.tick for s in states]
        assert ticks == sorted(ticks)  # lock-step: in order, one state per command
        # Joint PD alone does not balance a humanoid: it tips over, and the fall detector must damp it.
        assert _spin_until(ex, lambda: status[-1].fault, 60), f"no fall detected: {status[-1].state}"
        assert "fall" in status[-1].reason and status[-1].mode == TrackingStatus.MODE_DAMP
        assert _spin_until(ex, lambda: commands[-1].mode == JointCommand.MODE_DAMP, 10)
        assert max(commands[-1].kp) == 0.0
    finally:
        node.destroy_node()
        for p in (sim, pol):
            if p.poll() is not None:
                print(p.stdout.read())
