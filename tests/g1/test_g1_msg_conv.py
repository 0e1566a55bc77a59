"""LowState/LowCmd structs <-> arrays, CDR bytes <-> structs, hgpt_msgs conversions, and bad packets."""

import struct

import numpy as np
import pytest
from g1_samples import N, fake_lowcmd, fake_lowstate, sample

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE, index_map
from hgpt_g1.cdr import LOWCMD_CDR, LOWSTATE_CDR
from hgpt_g1.crc import crc32_words, message_crc, pack_lowcmd_msg, pack_lowstate_msg
from hgpt_g1.lowlevel import (
    CrcMismatch,
    command_from_lowcmd,
    lowcmd_struct,
    lowstate_struct,
    sample_from_lowstate,
)
from hgpt_g1.msg_conv import command_msg, joint_command_to_target, robot_state_msg, status_msg
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


def robot_lowstate(obs=None, buttons: int = 0) -> bytes:
    obs = sim_obs() if obs is None else obs
    remote = encode_remote(RemoteState(buttons, lx=0.5))
    return lowstate_struct(
        obs, mode_pr=0, mode_machine=5, tick=(1 << 32) + 77, remote=remote, temperature_c=41.4
    )


def test_lowstate_round_trip_with_a_valid_crc():
    obs = sim_obs()
    s = sample_from_lowstate(robot_lowstate(obs, (1 << Button.L2) | (1 << Button.B)), N, recv_time=12.5)
    for k in ("q", "dq", "tau_est"):
        np.testing.assert_allclose(getattr(s, k), obs[k], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.quat, obs["quat"], atol=1e-7)
    np.testing.assert_allclose(s.acc, obs["acc"], atol=1e-6)
    assert (s.temperature == 41).all() and (s.motorstate == 0).all()
    assert (s.mode_machine, s.tick, s.recv_time) == (5, 77, 12.5)  # tick is a uint32: wraps at 2^32
    assert s.buttons == (1 << Button.L2) | (1 << Button.B)


def test_corrupted_lowstate_fails_the_crc():
    buf = bytearray(robot_lowstate())
    buf[100] ^= 0x10  # one bit of motor 0's data
    with pytest.raises(CrcMismatch):
        sample_from_lowstate(bytes(buf), N, 0.0)
    assert np.isfinite(sample_from_lowstate(bytes(buf), N, 0.0, check_crc=False).q).all()


def test_malformed_lowstate_raises_value_error():
    with pytest.raises(ValueError, match="2091 bytes") as info:
        sample_from_lowstate(robot_lowstate()[:-1], N, 0.0)
    assert not isinstance(info.value, CrcMismatch)
    with pytest.raises(ValueError, match="not a little-endian CDR"):
        LOWSTATE_CDR.to_struct(b"\x00\x00\x00\x00" + bytes(2088))  # big-endian encapsulation
    with pytest.raises(ValueError, match="not a little-endian CDR"):
        LOWSTATE_CDR.to_struct(LOWSTATE_CDR.to_cdr(robot_lowstate())[:-4])


def test_nan_lowstate_is_well_formed_and_the_machine_rejects_it():
    obs = sim_obs()
    obs["q"][0] = np.nan
    s = sample_from_lowstate(robot_lowstate(obs), N, 0.0)  # a valid CRC over a NaN: well-formed
    m = SafetyMachine(None)
    m.on_lowstate(s)
    assert m.latest is None and m.bad_packets == 1 and "q has NaN" in m.last_bad


def test_cdr_layout_against_hand_computed_offsets():
    # CDR payload offsets (fields aligned to their size): LowCmd motor k's q at 4 + 28 k (struct: 8 + 28 k).
    cmd = fake_lowcmd()
    cmd.motor_cmd[1].q, cmd.motor_cmd[0].mode, cmd.crc = 1.5, 1, 0xA1B2C3D4
    raw = LOWCMD_CDR.to_cdr(pack_lowcmd_msg(cmd))
    assert raw[:4] == b"\x00\x01\x00\x00" and len(raw) == 1004
    assert struct.unpack_from("<f", raw, 4 + 4 + 28)[0] == 1.5 and raw[4 + 2] == 1
    assert struct.unpack_from("<I", raw, 4 + 996)[0] == 0xA1B2C3D4
    # LowState: imu temperature ends at 70, motor 0's mode at 70 and q at 72, later motors every 56 bytes.
    st = fake_lowstate()
    st.motor_state[0].mode, st.motor_state[2].q, st.wireless_remote[0], st.crc = 7, -2.0, 9, 5
    raw = LOWSTATE_CDR.to_cdr(pack_lowstate_msg(st))
    assert raw[4 + 70] == 7 and struct.unpack_from("<f", raw, 4 + 72 + 2 * 56)[0] == -2.0
    assert raw[4 + 2028] == 9 and struct.unpack_from("<I", raw, 4 + 2084)[0] == 5
    assert LOWSTATE_CDR.to_struct(raw) == pack_lowstate_msg(st)


def test_lowcmd_struct_round_trip_with_the_crc_the_robot_checks():
    m = SafetyMachine(None)
    m.on_lowstate(sample(0.0))
    cmd = m.tick(0.0)
    buf = lowcmd_struct(cmd)
    assert crc32_words(buf) == cmd.crc() == int.from_bytes(buf[-4:], "little")
    back, crc_ok = command_from_lowcmd(LOWCMD_CDR.to_struct(LOWCMD_CDR.to_cdr(buf)))
    assert crc_ok
    for k in ("mode", "q", "dq", "tau", "kp", "kd"):
        np.testing.assert_array_equal(getattr(back, k), getattr(cmd, k))
    assert (back.mode_pr, back.mode_machine) == (0, 5)
    bad = bytearray(buf)
    bad[40] ^= 1
    assert command_from_lowcmd(bytes(bad))[1] is False
    msg = fake_lowcmd()  # the same command as a message has the same CRC
    msg.mode_machine = 5
    for i, mc in enumerate(msg.motor_cmd):
        mc.mode, mc.q, mc.kd = int(cmd.mode[i]), float(cmd.q[i]), float(cmd.kd[i])
    assert message_crc(msg) == cmd.crc()


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
        TrackingStatus.MODE_STAND, "ramp", "armed", ["w"], 3
    )  # fmt: skip
    m = SafetyMachine(None)
    m.on_lowstate(sample(0.0))
    dry = command_msg(m.tick(0.0), np.arange(N), jc.header.stamp, "p")
    assert dry.mode == JointCommand.MODE_DAMP and max(dry.kp) == 0 and max(dry.kd) > 0
