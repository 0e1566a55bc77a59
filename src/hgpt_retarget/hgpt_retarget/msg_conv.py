"""numpy <-> hgpt_msgs for retarget_node. The only place where ROS's x, y, z, w quaternion order appears."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion

from hgpt_core.rotations import angular_velocity_w
from hgpt_core.stamps import stamp_to_sec
from hgpt_core.state import ReferenceFrame
from hgpt_msgs.msg import HumanPose, MotionReference
from hgpt_retarget.live import LiveFrame
from hgpt_ros.msg_conv import time_msg


def human_pose_from_msg(msg: HumanPose) -> tuple[tuple[str, ...], np.ndarray, float]:
    """HumanPose -> (joint names, positions (J, 3) [m], capture time [s]); missing rows are NaN."""
    names = tuple(msg.joint_names)
    pos = np.full((len(names), 3), np.nan)
    n = min(len(names), len(msg.positions))
    if n:  # (an empty list cannot be broadcast into (0, 3))
        pos[:n] = [(p.x, p.y, p.z) for p in msg.positions[:n]]
    return names, pos, stamp_to_sec(msg.header.stamp)


def human_pose_to_msg(
    names,
    positions: np.ndarray,
    t: float,
    skeleton: str = "",
    frame_id: str = "world",
    quats: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
) -> HumanPose:
    """(names, positions (J, 3) [m], time [s]) -> HumanPose (for publishers, bags and tests).

    Optional ``quats`` (J, 4) are wxyz (sent as ROS xyzw); ``confidence`` (J,) in [0, 1].
    """
    msg = HumanPose()
    msg.header.stamp, msg.header.frame_id = time_msg(t), frame_id
    msg.skeleton, msg.joint_names = skeleton, list(names)
    msg.positions = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in positions]
    if quats is not None:
        msg.orientations = [
            Quaternion(w=float(w), x=float(x), y=float(y), z=float(z)) for w, x, y, z in quats
        ]
    if confidence is not None:
        msg.confidence = [float(c) for c in confidence]
    return msg


def human_pose_extras_from_msg(msg: HumanPose) -> tuple[np.ndarray | None, np.ndarray | None]:
    """HumanPose -> (orientations (J, 4) wxyz or None, confidence (J,) or None); empty fields are None."""
    quats = np.array([(q.w, q.x, q.y, q.z) for q in msg.orientations]) if msg.orientations else None
    conf = np.asarray(msg.confidence, dtype=np.float64) if len(msg.confidence) else None
    return quats, conf


def reference_frame_to_msg(
    f: ReferenceFrame,
    stamp: Time,
    clip_id: str,
    frame_index: int = 0,
    valid: bool = True,
    frame_id: str = "world",
) -> MotionReference:
    """One reference frame (root (3,), (4,) wxyz, (3,), (3,); joints (29,)) -> MotionReference (the way back
    is :func:`hgpt_policy.msg_conv.reference_frame_from_msg`)."""
    msg = MotionReference()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    p, q = msg.root_position, msg.root_orientation
    p.x, p.y, p.z = (float(v) for v in f.root_pos_w)
    q.w, q.x, q.y, q.z = (float(v) for v in f.root_quat_w)
    lv, av = msg.root_linear_velocity, msg.root_angular_velocity
    lv.x, lv.y, lv.z = (float(v) for v in f.root_lin_vel_w)
    av.x, av.y, av.z = (float(v) for v in f.root_ang_vel_w)
    msg.joint_positions, msg.joint_velocities = f.joint_pos, f.joint_vel
    msg.clip_id, msg.frame_index, msg.valid = clip_id, int(frame_index), bool(valid)
    return msg


def live_reference(frame: LiveFrame, prev: LiveFrame | None) -> ReferenceFrame:
    """A retargeted frame as a reference frame: velocities by finite difference from the previous published
    frame (zero without one)."""
    p, q = frame.root_pos_w, frame.root_quat_w
    lin, ang, jv = np.zeros(3), np.zeros(3), np.zeros(len(frame.joint_pos))
    if prev is not None and frame.stamp > prev.stamp:
        dt = frame.stamp - prev.stamp
        lin = (p - prev.root_pos_w) / dt
        ang = angular_velocity_w(np.stack((prev.root_quat_w, q)), dt)[-1]
        jv = (frame.joint_pos - prev.joint_pos) / dt
    return ReferenceFrame(p, q, lin, ang, np.asarray(frame.joint_pos, dtype=np.float64), jv)


def frame_to_msg(
    frame: LiveFrame, prev: LiveFrame | None, valid: bool, index: int, frame_id: str = "world"
) -> MotionReference:
    """LiveFrame -> MotionReference (:func:`live_reference`, :func:`reference_frame_to_msg`)."""
    return reference_frame_to_msg(
        live_reference(frame, prev), time_msg(frame.stamp), "", index, valid, frame_id
    )
