"""Generic numpy <-> ROS message helpers: time stamps, quaternions (ROS's x, y, z, w order), 3-vectors."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion

from hgpt_core.stamps import sec_to_sec_nanosec


def time_msg(t: float) -> Time:
    """Seconds -> builtin_interfaces/Time, rounded to the nanosecond (carry included)."""
    sec, nanosec = sec_to_sec_nanosec(t)
    return Time(sec=sec, nanosec=nanosec)


def quat_wxyz_from_msg(q: Quaternion) -> np.ndarray:
    """geometry_msgs/Quaternion (x, y, z, w fields) -> wxyz array, shape (4,)."""
    return np.array([q.w, q.x, q.y, q.z])


def quat_msg_from_wxyz(q: np.ndarray) -> Quaternion:
    """wxyz array, shape (4,) -> geometry_msgs/Quaternion."""
    return Quaternion(w=float(q[0]), x=float(q[1]), y=float(q[2]), z=float(q[3]))


def vec3(v) -> np.ndarray:
    """Any message with x, y, z fields (Vector3, Point) -> array, shape (3,)."""
    return np.array([v.x, v.y, v.z])
