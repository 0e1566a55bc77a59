"""ReferenceFrame -> hgpt_msgs/MotionReference (ROS quaternion order x, y, z, w only here)."""

from __future__ import annotations

from builtin_interfaces.msg import Time

from hgpt_msgs.msg import MotionReference
from hgpt_retarget.player import ReferenceFrame


def reference_frame_to_msg(f: ReferenceFrame, stamp: Time, clip_id: str) -> MotionReference:
    msg = MotionReference()
    msg.header.stamp, msg.header.frame_id = stamp, "world"
    p, q = msg.root_position, msg.root_orientation
    p.x, p.y, p.z = (float(v) for v in f.root_pos)
    q.w, q.x, q.y, q.z = (float(v) for v in f.root_quat)
    lv, av = msg.root_linear_velocity, msg.root_angular_velocity
    lv.x, lv.y, lv.z = (float(v) for v in f.root_lin_vel)
    av.x, av.y, av.z = (float(v) for v in f.root_ang_vel)
    msg.joint_positions, msg.joint_velocities = f.joint_pos, f.joint_vel
    msg.clip_id, msg.frame_index = clip_id, f.frame_index
    msg.valid = True
    return msg
