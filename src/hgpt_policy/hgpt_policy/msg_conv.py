"""numpy <-> hgpt_msgs conversions of the policy node (the generic ones, quaternion order included, are
:mod:`hgpt_ros.msg_conv`)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time

from hgpt_msgs.msg import JointCommand, MotionReference, RobotState, TrackingStatus
from hgpt_policy.controller import Command, ReferenceSample, RobotSample, Status
from hgpt_ros.msg_conv import quat_wxyz_from_msg, vec3


def robot_sample_from_msg(msg: RobotState, received: float) -> RobotSample:
    """RobotState -> RobotSample stamped with the local receive time [s] (staleness is local)."""
    return RobotSample(
        q=np.asarray(msg.q, dtype=np.float64),
        dq=np.asarray(msg.dq, dtype=np.float64),
        quat=quat_wxyz_from_msg(msg.imu_orientation),
        gyro=vec3(msg.imu_angular_velocity),
        stamp=received,
    )


def reference_sample_from_msg(msg: MotionReference, received: float) -> ReferenceSample | None:
    """MotionReference -> ReferenceSample; None when the message says it is not valid."""
    if not msg.valid:
        return None
    return ReferenceSample(
        root_pos=vec3(msg.root_position),
        root_quat=quat_wxyz_from_msg(msg.root_orientation),
        root_lin_vel=vec3(msg.root_linear_velocity),
        root_ang_vel=vec3(msg.root_angular_velocity),
        joint_pos=np.asarray(msg.joint_positions, dtype=np.float64),
        joint_vel=np.asarray(msg.joint_velocities, dtype=np.float64),
        stamp=received,
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
