"""numpy <-> hgpt_msgs for the simulator bridge. ROS quaternions are x, y, z, w; ours are w, x, y, z."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_msgs.msg import JointCommand, RobotState
from hgpt_ros.msg_conv import time_msg
from hgpt_sim.sim_robot import PDCommand


def command_from_msg(msg: JointCommand) -> PDCommand:
    return PDCommand(
        *(np.asarray(getattr(msg, k), dtype=np.float64) for k in ("q", "dq", "kp", "kd", "tau_ff"))
    )


def robot_state_to_msg(s: dict[str, np.ndarray], stamp: Time, tick: int) -> RobotState:
    msg = RobotState()
    msg.header.stamp, msg.header.frame_id = stamp, "pelvis"
    msg.q, msg.dq, msg.tau_est = s["q"], s["dq"], s["tau_est"]
    w, x, y, z = (float(v) for v in s["quat"])
    o = msg.imu_orientation
    o.w, o.x, o.y, o.z = w, x, y, z
    g, a = msg.imu_angular_velocity, msg.imu_linear_acceleration
    g.x, g.y, g.z = (float(v) for v in s["gyro"])
    a.x, a.y, a.z = (float(v) for v in s["acc"])
    msg.has_root_truth = True
    p, q = msg.root_pose.position, msg.root_pose.orientation
    p.x, p.y, p.z = (float(v) for v in s["root_pos_w"])
    q.w, q.x, q.y, q.z = w, x, y, z
    lin, ang = msg.root_twist.linear, msg.root_twist.angular
    lin.x, lin.y, lin.z = (float(v) for v in s["root_lin_vel_w"])
    ang.x, ang.y, ang.z = (float(v) for v in s["root_ang_vel_w"])
    msg.tick = tick
    return msg


def joint_state_to_msg(s: dict[str, np.ndarray], stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(G1_JOINT_NAMES)
    msg.position, msg.velocity, msg.effort = s["q"].tolist(), s["dq"].tolist(), s["tau_est"].tolist()
    return msg


def clock_msg(t: float) -> Clock:
    return Clock(clock=time_msg(t))
