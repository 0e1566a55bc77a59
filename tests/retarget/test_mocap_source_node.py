"""mocap_source in this process: the UDP receiver thread publishes valid datagrams converted to metres /
z up (xyzw orientations at the message), counts garbage, reports stale; the file player publishes the
frames of a real BVH in real time; bad sources are refused."""

from __future__ import annotations

import math
import socket
import time

import numpy as np
import pytest

pytest.importorskip("hgpt_msgs.msg", reason="hgpt_msgs not built (make setup)")

from rclpy.parameter import Parameter  # noqa: E402

from hgpt_retarget.human import load_human  # noqa: E402
from hgpt_retarget.mocap_send import MocapUdpSender, from_z_up_m  # noqa: E402
from hgpt_retarget.msg_conv import human_pose_extras_from_msg, human_pose_from_msg  # noqa: E402

pytestmark = pytest.mark.ros


def _node(**params):
    from hgpt_retarget.mocap_source_node import MocapSourceNode

    return MocapSourceNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def _wait(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not cond():
        time.sleep(0.01)
    return cond()


def test_udp_receiver_publishes_counts_and_goes_stale(rclpy_init, walk_bvh):
    motion = load_human(walk_bvh)[0]
    node = _node(source="udp://127.0.0.1:0", stale_ms=200, stats_period_s=0.0)
    sent = []
    node.pub.publish = sent.append
    snd = MocapUdpSender("127.0.0.1", node.port, motion.skeleton, motion.joint_names, units="cm", up="y")
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        q = np.tile([math.sqrt(0.5), -math.sqrt(0.5), 0.0, 0.0], (len(motion.joint_names), 1))  # y-up: -90 x
        for i in range(5):
            snd.send(from_z_up_m(motion.positions[i], "cm", "y"), 10.0 + i / 30, quats=q)
            time.sleep(1 / 30)
        snd.sock.sendto(b"{", snd.addr)  # garbage from the live sender
        junk.sendto(b"[]", snd.addr)
        assert _wait(lambda: node.parser.stats.accepted + node.parser.stats.rejected_total == 7)
        assert len(sent) == 5 and node.parser.stats.rejected == {"json": 1, "not_object": 1}
        names, pos, stamp = human_pose_from_msg(sent[-1])
        assert names == motion.joint_names and sent[-1].skeleton == motion.skeleton
        np.testing.assert_allclose(pos, motion.positions[4], atol=1e-9)
        quats, _ = human_pose_extras_from_msg(sent[-1])
        np.testing.assert_allclose(quats, np.tile([1.0, 0, 0, 0], (len(names), 1)), atol=1e-12)
        stamps = [human_pose_from_msg(m)[2] for m in sent]
        np.testing.assert_allclose(np.diff(stamps), 1 / 30, atol=3e-3)  # sender capture times, mapped
        node.on_watchdog()
        assert not node.stale
        assert _wait(lambda: (node.on_watchdog(), node.stale)[1], 2.0)
        snd.send(from_z_up_m(motion.positions[5], "cm", "y"), 11.0)
        assert _wait(lambda: (node.on_watchdog(), not node.stale)[1], 2.0)
    finally:
        snd.close()
        junk.close()
        node.destroy_node()
    assert not node._thread.is_alive()


def test_file_player_publishes_bvh_frames(rclpy_init, walk_bvh):
    motion = load_human(walk_bvh)[0].resample(50.0)
    node = _node(source=str(walk_bvh), rate_hz=50.0, loop=False, speed=1.0)
    sent = []
    node.pub.publish = sent.append
    try:
        t0 = node.now()
        node.on_file_tick()
        assert len(sent) == 1
        np.testing.assert_allclose(human_pose_from_msg(sent[0])[1], motion.positions[0])
        node._file_t0 = t0 - 0.5  # half a second later: frame 25
        node.on_file_tick()
        np.testing.assert_allclose(human_pose_from_msg(sent[1])[1], motion.positions[25])
        node._file_t0 = t0 - 1e3  # past the end without loop: stops publishing
        node.on_file_tick()
        node.on_file_tick()
        assert len(sent) == 2 and node._ended
    finally:
        node.destroy_node()


@pytest.mark.parametrize("source", ["udp://127.0.0.1", "tcp://1.2.3.4:5", "/no/such/walk.bvh"])
def test_bad_source_is_refused(rclpy_init, source):
    from hgpt_core.errors import MotionFormatError

    with pytest.raises((ValueError, MotionFormatError), match="udp://HOST:PORT|no such file"):
        _node(source=source)
