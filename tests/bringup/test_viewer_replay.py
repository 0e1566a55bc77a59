"""hgpt viewer --bag: a recorded run's timeline (robot states, references, statuses by stamp) and poses."""

from __future__ import annotations

import numpy as np
from rclpy.serialization import serialize_message

from hgpt_bringup.bag import BagWriter
from hgpt_bringup.viewer_node import reference_pose, robot_pose
from hgpt_bringup.viewer_replay import load_timeline


def test_timeline_from_a_bag(tmp_path):
    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import MotionReference, RobotState

    with BagWriter(tmp_path / "run") as w:
        w.add_topic("/hgpt/robot_state", "hgpt_msgs/msg/RobotState")
        w.add_topic("/hgpt/reference", "hgpt_msgs/msg/MotionReference")
        for k in range(10):
            st = RobotState(has_root_truth=True, q=[float(v) for v in KNEES_BENT_POSE])
            st.header.stamp.sec, st.header.stamp.nanosec = 5, k * 20_000_000
            st.root_pose.position.x, st.root_pose.orientation.w = 0.1 * k, 1.0
            ref = MotionReference(valid=True, clip_id="walk", joint_positions=[0.0] * 29)
            ref.header.stamp = st.header.stamp
            ref.root_orientation.w = 1.0
            w.write("/hgpt/robot_state", 10**9 + k, serialize_message(st))
            w.write("/hgpt/reference", 10**9 + k, serialize_message(ref))
    tl = load_timeline(tmp_path / "run")
    assert len(tl.states) == len(tl.refs) == 10 and tl.span == (5.0, 5.18)
    st, ref, status = tl.at(5.07)  # the newest at or before
    robot, ghost = robot_pose(st, None), reference_pose(ref)
    assert np.isclose(robot.root_pos[0], 0.3) and np.allclose(robot.root_quat, [1, 0, 0, 0])
    assert np.allclose(robot.q, KNEES_BENT_POSE) and np.allclose(ghost.q, 0.0) and status is None
    assert tl.at(4.0)[0] is None
