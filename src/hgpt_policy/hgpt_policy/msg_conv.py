"""numpy <-> hgpt_msgs conversions of the policy node (the generic ones, quaternion order included, are
:mod:`hgpt_ros.msg_conv`)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time

from hgpt_core.state import ReferenceFrame
from hgpt_core.state import RobotState as State
from hgpt_msgs.msg import JointCommand, MotionReference, RobotState, TrackingStatus
from hgpt_policy.controller import Command, Status
from hgpt_ros.msg_conv import quat_wxyz_from_msg, vec3


def robot_state_from_msg(msg: RobotState, root_truth: bool = False) -> State:
    """RobotState message -> :class:`~hgpt_core.state.RobotState` (one robot: joints (29,), IMU gyro (3,)).

    ``root_truth=False`` (a policy node: a real robot has nothing else): the orientation is the IMU's, the
    root position and linear velocity are None. ``root_truth=True`` and the message has it
    (``has_root_truth``: a simulator or motion capture): pelvis pose and linear velocity from ``root_pose`` /
    ``root_twist``.
    """
    truth = root_truth and msg.has_root_truth
    quat = msg.root_pose.orientation if truth else msg.imu_orientation
    return State(
        joint_pos=np.asarray(msg.q, dtype=np.float64),
        joint_vel=np.asarray(msg.dq, dtype=np.float64),
        root_quat_w=quat_wxyz_from_msg(quat),
        root_ang_vel_b=vec3(msg.imu_angular_velocity),
        root_pos_w=vec3(msg.root_pose.position) if truth else None,
        root_lin_vel_w=vec3(msg.root_twist.linear) if truth else None,
    )


def reference_frame_from_msg(msg: MotionReference) -> ReferenceFrame | None:
    """MotionReference -> :class:`~hgpt_core.state.ReferenceFrame` (one frame); None when the message says it
    is not valid."""
    if not msg.valid:
        return None
    return ReferenceFrame(
        root_pos_w=vec3(msg.root_position),
        root_quat_w=quat_wxyz_from_msg(msg.root_orientation),
        root_lin_vel_w=vec3(msg.root_linear_velocity),
        root_ang_vel_w=vec3(msg.root_angular_velocity),
        joint_pos=np.asarray(msg.joint_positions, dtype=np.float64),
        joint_vel=np.asarray(msg.joint_velocities, dtype=np.float64),
    )


def command_to_msg(cmd: Command, stamp: Time, policy_id: str) -> JointCommand:
    msg = JointCommand()
    msg.header.stamp = stamp
    msg.header.frame_id = "pelvis"
    msg.q, msg.dq, msg.kp, msg.kd = (np.asarray(x, dtype=np.float64) for x in (cmd.q, cmd.dq, cmd.kp, cmd.kd))
    msg.tau_ff = np.zeros(len(cmd.q))
    msg.mode = int(cmd.mode)
    msg.policy_id = policy_id
    return msg


def status_to_msg(st: Status, stamp: Time, latency_ms: float, overruns: int) -> TrackingStatus:
    msg = TrackingStatus()
    msg.header.stamp = stamp
    msg.mode = int(st.mode)
    msg.state, msg.reason, msg.fault, msg.warnings = st.state, st.reason, st.fault, list(st.warnings)
    msg.latency_ms, msg.overruns = float(latency_ms), int(overruns)
    return msg
