"""retarget_node and msg_conv without spinning: callbacks called directly, publisher captured."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hgpt_msgs.msg", reason="hgpt_msgs not built (make setup)")

from hgpt_retarget.human import load_human  # noqa: E402
from hgpt_retarget.msg_conv import human_pose_from_msg, human_pose_to_msg  # noqa: E402


def test_human_pose_round_trip():
    pos = np.arange(6.0).reshape(2, 3)
    names, back, t = human_pose_from_msg(human_pose_to_msg(("a", "b"), pos, 12.25))
    assert names == ("a", "b") and t == pytest.approx(12.25)
    np.testing.assert_allclose(back, pos)
    msg = human_pose_to_msg(("a", "b"), pos, 0.0)
    msg.positions = msg.positions[:1]  # a publisher that sent fewer positions than names
    assert np.isnan(human_pose_from_msg(msg)[1][1]).all()


def test_node_publishes_reference_and_invalidates_when_stale(rclpy_init, walk_bvh):
    from hgpt_retarget.retarget_node import RetargetNode

    motion, _ = load_human(walk_bvh)
    stream = motion.resample(50.0)
    node = RetargetNode()
    sent = []
    node.pub.publish = sent.append
    try:
        node.on_tick()  # nothing received yet: nothing published
        assert sent == []
        for i in range(5):
            node.on_pose(human_pose_to_msg(stream.joint_names, stream.positions[i], i / 50.0))
            node.on_tick()
        assert len(sent) == 5 and all(m.valid for m in sent)
        last = sent[-1]
        assert len(last.joint_positions) == 29 and last.frame_index == 4
        q = last.root_orientation
        assert np.isclose(np.linalg.norm([q.w, q.x, q.y, q.z]), 1.0)
        assert np.isfinite(last.joint_velocities).all()
        node.last_rx -= 10.0  # no pose for 10 s: the last frame is repeated, invalid
        node.on_tick()
        assert not sent[-1].valid and list(sent[-1].joint_positions) == list(last.joint_positions)
    finally:
        node.destroy_node()
