"""Message conversions of the bridge and the simulated robot, and bad packets (fake unitree_hg messages)."""

import numpy as np
import pytest
from g1_samples import N, fake_lowcmd, fake_lowstate, sample

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE, index_map
from hgpt_g1.crc import message_crc
from hgpt_g1.msg_conv import (
    CrcMismatch,
    LowStateWriter,
    command_msg,
    fill_lowcmd,
    joint_command_to_target,
    lowcmd_to_command,
    lowstate_to_sample,
    robot_state_msg,
    status_msg,
)
from hgpt_g1.remote import Button, RemoteState, encode_remote
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import SafetyState, SafetyStatus
from hgpt_msgs.msg import JointCommand, TrackingStatus


def sim_obs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    quat = rng.normal(size=4)
    return {
        "q": KNEES_BENT_POSE + 0.1 * rng.normal(size=N),
        "dq": rng.normal(size=N),
        "ddq": rng.normal(size=N),
        "tau_est": 10 * rng.normal(size=N),
        "quat": quat / np.linalg.norm(quat),
        "gyro": rng.normal(size=3),
        "acc": rng.normal(size=3),
        "rpy": rng.normal(size=3),
    }


def written_lowstate(seed: int = 0, buttons: int = 0):
    w = LowStateWriter(fake_lowstate(), N, mode_machine=5, temperature_c=41.4)
    obs = sim_obs(seed)
    w.write(obs, mode_pr=0, tick=(1 << 32) + 77, remote=encode_remote(RemoteState(buttons, lx=0.5)))
    return w.msg, obs


def test_lowstate_writer_and_decoder_round_trip_with_a_valid_crc():
    msg, obs = written_lowstate(buttons=(1 << Button.L2) | (1 << Button.B))
    assert msg.crc == message_crc(msg)  # the record-based CRC equals a full repacking of the message
    s = lowstate_to_sample(msg, N, recv_time=12.5)
    for k in ("q", "dq", "tau_est"):
        np.testing.assert_allclose(getattr(s, k), obs[k], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.quat, obs["quat"], atol=1e-7)
    np.testing.assert_allclose(s.acc, obs["acc"], atol=1e-6)
    assert (s.temperature == 41).all() and (s.motorstate == 0).all()
    assert (s.mode_machine, s.tick, s.recv_time) == (5, 77, 12.5)  # tick wraps at 2^32 as uint32
    assert s.buttons == (1 << Button.L2) | (1 << Button.B)


def test_corrupted_lowstate_fails_the_crc():
    msg, _ = written_lowstate()
    msg.motor_state[4].q += 1e-3
    with pytest.raises(CrcMismatch):
        lowstate_to_sample(msg, N, 0.0)
    s = lowstate_to_sample(msg, N, 0.0, check_crc=False)  # check disabled: decoded anyway
    assert np.isfinite(s.q).all()


def test_malformed_lowstate_raises_value_error():
    msg, _ = written_lowstate()
    msg.motor_state = msg.motor_state[:30]
    with pytest.raises(ValueError, match="layout") as info:
        lowstate_to_sample(msg, N, 0.0)
    assert not isinstance(info.value, CrcMismatch)


def test_nan_lowstate_decodes_and_the_machine_rejects_it():
    msg, obs = written_lowstate()
    obs["q"][0] = np.nan
    w = LowStateWriter(fake_lowstate(), N, 5, 40.0)
    w.write(obs, 0, 1, bytes(40))
    s = lowstate_to_sample(w.msg, N, 0.0)  # a valid CRC over a NaN: the packet is well-formed
    m = SafetyMachine(None)
    m.on_lowstate(s)
    assert m.latest is None and m.bad_packets == 1 and "q has NaN" in m.last_bad


def test_lowcmd_fill_and_parse_round_trip_with_the_crc_the_robot_checks():
    m = SafetyMachine(None)
    m.on_lowstate(sample(0.0))
    cmd = m.tick(0.0)
    msg = fake_lowcmd()
    fill_lowcmd(msg, cmd, cmd.crc())
    assert message_crc(msg) == msg.crc == cmd.crc()
    back, motor_reserve, reserve = lowcmd_to_command(msg)
    for k in ("mode", "q", "dq", "tau", "kp", "kd"):
        np.testing.assert_array_equal(getattr(back, k), getattr(cmd, k))
    assert (back.mode_pr, back.mode_machine) == (0, 5) and not motor_reserve.any() and not reserve.any()
    msg.motor_cmd = msg.motor_cmd[:34]
    with pytest.raises(ValueError, match="34 motor commands"):
        lowcmd_to_command(msg)


def test_robot_state_is_in_g1_order_for_any_motor_order():
    names = tuple(reversed(G1_JOINT_NAMES))
    q_motor = np.arange(N, dtype=float)
    s = sample(0.0, q=q_motor, quat=np.array([0.5, 0.5, 0.5, 0.5]))
    msg = robot_state_msg(s, index_map(G1_JOINT_NAMES, names), stamp=JointCommand().header.stamp)
    np.testing.assert_array_equal(np.asarray(msg.q), q_motor[::-1])
    o = msg.imu_orientation
    assert (o.w, o.x, o.y, o.z) == (0.5, 0.5, 0.5, 0.5) and msg.tick == 0


def test_joint_command_and_status_messages():
    jc = JointCommand()
    jc.q = np.full(N, 0.1)
    jc.header.stamp.sec = 100
    jc.mode, jc.policy_id = JointCommand.MODE_TRACK, "p"
    t = joint_command_to_target(jc, recv_time=5.0, recv_wall=100.004)
    assert t.q.shape == (N,) and t.mode == 2 and t.policy_id == "p"
    assert t.lag_offset == pytest.approx(0.004)
    st = status_msg(SafetyStatus(SafetyState.RAMP, "armed", False, ["w"], 1.5), jc.header.stamp, overruns=3)
    assert (st.mode, st.state, st.reason, st.warnings, st.overruns) == (
        TrackingStatus.MODE_STAND,
        "ramp",
        "armed",
        ["w"],
        3,
    )
    m = SafetyMachine(None)
    m.on_lowstate(sample(0.0))
    dry = command_msg(m.tick(0.0), np.arange(N), jc.header.stamp, "p")
    assert dry.mode == JointCommand.MODE_DAMP and max(dry.kp) == 0 and max(dry.kd) > 0
