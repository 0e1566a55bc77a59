"""ReferenceFrame -> hgpt_msgs/MotionReference (ROS quaternion order x, y, z, w only here; the way back is
:func:`hgpt_policy.msg_conv.reference_frame_from_msg`)."""

from __future__ import annotations

from builtin_interfaces.msg import Time

from hgpt_core.state import ReferenceFrame
from hgpt_msgs.msg import MotionReference


def reference_frame_to_msg(
    f: ReferenceFrame, stamp: Time, clip_id: str, frame_index: int = 0
) -> MotionReference:
    """One reference frame (root (3,), (4,) wxyz, (3,), (3,); joints (29,)) -> a valid MotionReference."""
    msg = MotionReference()
    msg.header.stamp, msg.header.frame_id = stamp, "world"
    p, q = msg.root_position, msg.root_orientation
    p.x, p.y, p.z = (float(v) for v in f.root_pos_w)
    q.w, q.x, q.y, q.z = (float(v) for v in f.root_quat_w)
    lv, av = msg.root_linear_velocity, msg.root_angular_velocity
    lv.x, lv.y, lv.z = (float(v) for v in f.root_lin_vel_w)
    av.x, av.y, av.z = (float(v) for v in f.root_ang_vel_w)
    msg.joint_positions, msg.joint_velocities = f.joint_pos, f.joint_vel
    msg.clip_id, msg.frame_index = clip_id, int(frame_index)
    msg.valid = True
    return msg
