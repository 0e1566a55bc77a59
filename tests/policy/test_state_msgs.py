"""MotionReference / RobotState messages <-> the shared state types (hgpt_core.state), on the bundled walk
as the reference player streams it: what goes out comes back bit for bit."""

import numpy as np
import pytest
from rclpy.serialization import serialize_message

from hgpt_core.datasets import bundled_clip_path
from hgpt_core.state import ReferenceFrame, RobotState
from hgpt_policy.msg_conv import reference_frame_from_msg, robot_state_from_msg
from hgpt_retarget.msg_conv import reference_frame_to_msg
from hgpt_retarget.player import ReferencePlayer
from hgpt_ros.msg_conv import time_msg
from hgpt_sim.msg_conv import robot_state_to_msg


@pytest.fixture(scope="module")
def player() -> ReferencePlayer:
    p = ReferencePlayer.from_file(str(bundled_clip_path()))
    p.play(0.0)
    return p


def test_reference_round_trip_msg_frame_msg(player):
    for t in np.linspace(0.0, player.duration, 37):
        f = player.frame(t)
        assert type(f) is ReferenceFrame and f.batch_shape == () and f.keypoint_pos_w is None
        msg = reference_frame_to_msg(f, time_msg(100.0 + t), "walk", player.frame_index(t))
        back = reference_frame_from_msg(msg)
        assert back is not None
        for name in (
            "root_pos_w",
            "root_quat_w",
            "root_lin_vel_w",
            "root_ang_vel_w",
            "joint_pos",
            "joint_vel",
        ):
            np.testing.assert_array_equal(getattr(back, name), getattr(f, name), err_msg=name)
        again = reference_frame_to_msg(back, msg.header.stamp, msg.clip_id, msg.frame_index)
        assert serialize_message(again) == serialize_message(msg)
    msg.valid = False
    assert reference_frame_from_msg(msg) is None


def test_robot_state_from_msg(player):
    ref = player.ref
    for k in (0, 17, ref.num_frames - 1):
        truth = ref.select(k).as_robot_state()
        s = {
            "q": truth.joint_pos, "dq": truth.joint_vel, "tau_est": np.zeros(29), "quat": truth.root_quat_w,
            "gyro": truth.root_ang_vel_b, "acc": np.array([0, 0, 9.81]), "root_pos_w": truth.root_pos_w,
            "root_lin_vel_w": truth.root_lin_vel_w, "root_ang_vel_w": ref.root_ang_vel_w[k],
        }  # fmt: skip
        msg = robot_state_to_msg(s, time_msg(k / ref.fps), k)
        imu = robot_state_from_msg(msg)  # what a policy node uses: no root truth
        assert type(imu) is RobotState and imu.batch_shape == () and imu.root_pos_w is None
        full = robot_state_from_msg(msg, root_truth=True)
        for name in (
            "joint_pos",
            "joint_vel",
            "root_quat_w",
            "root_ang_vel_b",
            "root_pos_w",
            "root_lin_vel_w",
        ):
            np.testing.assert_array_equal(getattr(full, name), getattr(truth, name), err_msg=name)
            if name in ("root_pos_w", "root_lin_vel_w"):
                continue
            np.testing.assert_array_equal(getattr(imu, name), getattr(truth, name), err_msg=name)
        np.testing.assert_array_equal(full.qpos(), ref.select(k).qpos())
