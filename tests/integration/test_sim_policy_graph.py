"""Two real processes over DDS: sim_bridge_node (lock-step MuJoCo) and policy_node, observed from the test.

The simulated robot hangs on a gantry (as a real G1 does when it is stood up): the policy node starts damped,
is asked to STAND, ramps to its default pose; once the gantry is released, joint PD alone cannot balance the
robot, it tips over, and the fall detector must damp and latch.
"""

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


def test_stand_on_gantry_then_fall_detector_damps_and_latches(spawn_python, rclpy_init):
    rclpy = rclpy_init
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import JointCommand, RobotState, TrackingStatus
    from hgpt_msgs.srv import SetMode, SimControl

    node = rclpy.create_node("graph_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    states: list[RobotState] = []
    status: list[TrackingStatus] = []
    commands: list[JointCommand] = []
    node.create_subscription(RobotState, "/hgpt/robot_state", states.append, qos_profile_sensor_data)
    node.create_subscription(TrackingStatus, "/hgpt/status", status.append, 100)
    node.create_subscription(JointCommand, "/hgpt/joint_command", commands.append, 100)
    client = node.create_client(SetMode, "/hgpt/set_mode")
    sim_ctl = node.create_client(SimControl, "/hgpt/sim/control")
    sim = spawn_python(
        "-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", "mode:=lockstep", "-p", "sim.gantry:=true"
    )  # fmt: skip
    pol = spawn_python(
        "-m", "hgpt_policy.policy_node", "--ros-args",
        "-p", "policy:=zero", "-p", "trigger:=state", "-p", "use_sim_time:=true",
        "-p", "safety.stand_ramp_s:=1.0",
    )  # fmt: skip
    try:
        assert client.wait_for_service(timeout_sec=30), "policy_node did not come up"
        assert _spin_until(ex, lambda: len(status) > 3 and len(states) > 3, 20), "no state/status flowing"
        assert status[-1].mode == TrackingStatus.MODE_DAMP  # starts damped
        assert states[-1].root_pose.position.z > 0.6  # hanging on the gantry, not collapsed
        refused = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_TRACK))
        assert _spin_until(ex, refused.done, 10)
        assert not refused.result().success and "STAND" in refused.result().message

        fut = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_STAND))
        assert _spin_until(ex, fut.done, 10) and fut.result().success
        assert _spin_until(ex, lambda: status[-1].state == "standing" or status[-1].fault, 60)
        assert status[-1].state == "standing", f"{status[-1].state}: {status[-1].reason}"
        # the ramp ends at the default pose (commands may trail the status by a few messages)
        assert _spin_until(ex, lambda: np.allclose(commands[-1].q, KNEES_BENT_POSE, atol=1e-9), 10)
        assert commands[-1].mode == JointCommand.MODE_STAND and max(commands[-1].kp) > 0
        ticks = [s.tick for s in states]
        assert ticks == sorted(ticks)  # lock-step: in order, one state per command

        assert states[-1].root_pose.position.z > 0.6
        bad = sim_ctl.call_async(SimControl.Request(command="fly"))
        assert _spin_until(ex, bad.done, 10) and not bad.result().success
        rel = sim_ctl.call_async(SimControl.Request(command=SimControl.Request.COMMAND_RELEASE_GANTRY))
        assert _spin_until(ex, rel.done, 10) and rel.result().success
        # Off the gantry, PD alone tips over, and the fall detector must damp the robot.
        assert _spin_until(ex, lambda: status[-1].fault, 90), f"no fall detected: {status[-1].state}"
        assert "fall" in status[-1].reason and status[-1].mode == TrackingStatus.MODE_DAMP
        assert _spin_until(ex, lambda: commands[-1].mode == JointCommand.MODE_DAMP, 10)
        assert max(commands[-1].kp) == 0.0
        # A latched fault needs an explicit DAMP acknowledgement before STAND is accepted again.
        refused = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_STAND))
        assert _spin_until(ex, refused.done, 10)
        assert not refused.result().success and "acknowledge" in refused.result().message
        ack = client.call_async(SetMode.Request(mode=SetMode.Request.MODE_DAMP))
        assert _spin_until(ex, ack.done, 10) and ack.result().success
    finally:
        ex.shutdown()
        node.destroy_node()
        for p in (sim, pol):
            if p.poll() is not None:
                print(p.stdout.read())
