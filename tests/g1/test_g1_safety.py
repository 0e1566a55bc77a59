"""The safety state machine, path by path (pure core: no ROS, simulated 500 Hz clock)."""

import numpy as np
import pytest
from g1_samples import DEFAULT, DT, META, N, Rig, sample, target

from hgpt_core.g1 import G1_23DOF_JOINT_NAMES, G1_JOINT_NAMES, KNEES_BENT_POSE, G1Spec
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_g1.remote import Button
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import SafetyConfig

L2B = (1 << Button.L2) | (1 << Button.B)
START = 1 << Button.START
META_23 = PolicyMetadata(
    "p23", joint_names=list(G1_23DOF_JOINT_NAMES), default_joint_pos=[0.0] * 23, kp=[10.0] * 23,
    kd=[1.0] * 23, action_scale=[0.25] * 23,
)  # fmt: skip


def one_hot(i: int, value: float) -> np.ndarray:
    v = np.zeros(N)
    v[i] = value
    return v


def armed(**cfg) -> Rig:
    rig = Rig(**{"ramp_s": 0.2, **cfg})
    rig.run(0.02)
    ok, msg = rig.arm()
    assert ok, msg
    return rig


def tracking(**cfg) -> Rig:
    rig = armed(**cfg)
    rig.run(0.3)
    assert rig.state == "stand"
    rig.run(0.02, command=True)
    assert rig.state == "track"
    return rig


# ---- start-up, arming, mismatch ---------------------------------------------------------------------------
def test_starts_damped_with_motor_enable_bits_and_echoed_mode_machine():
    rig = Rig()
    assert rig.m.tick(0.0) is None  # nothing is sent before the first LowState
    cmd = rig.step(mode_machine=5)
    assert rig.state == "damp" and not rig.m.fault
    assert (cmd.kp == 0).all() and (cmd.kd[:N] > 0).all() and (cmd.kd[N:] == 0).all()
    np.testing.assert_allclose(cmd.kd[:N], META.kd, rtol=1e-6)
    assert list(cmd.mode) == [1] * 29 + [0] * 6
    assert (cmd.mode_pr, cmd.mode_machine) == (0, 5)
    np.testing.assert_allclose(cmd.q[:N], KNEES_BENT_POSE, atol=1e-6)  # kp = 0: q is the measured pose
    rig.run(1.0)
    assert rig.state == "damp"  # never leaves DAMP by itself


@pytest.mark.parametrize(
    ("meta", "cfg", "over", "expect"),
    [
        (None, {}, {}, "no policy metadata"),
        (META_23, {}, {}, "left_wrist_roll_joint"),
        (PolicyMetadata("hot", kp=[900.0] * 29), {}, {}, "exceed the allowed"),
        (META, {}, {"mode_machine": 4}, "mode_machine 4"),
        (META, {"mode_pr": 1}, {}, "mode_pr=1"),
        (META, {}, {"motorstate": one_hot(9, 0x20).astype(np.uint32)}, "right_knee_joint code 0x20"),
        (META, {}, {"temperature": np.r_[np.full(28, 40.0), 101.0]}, "right_wrist_yaw_joint 101.0 C"),
        (META, {}, {"quat": np.array([np.cos(0.7), np.sin(0.7), 0.0, 0.0])}, "fall: pelvis tilt 1.40"),
        (META, {}, {"buttons": L2B}, "e-stop combo (L2+B,SELECT) is held"),
    ],
)  # fmt: skip
def test_arm_is_refused_with_the_reason_listed(meta, cfg, over, expect):
    rig = Rig(meta, **cfg)
    rig.run(0.02, **over)
    ok, msg = rig.arm()
    assert not ok and expect in msg, msg
    assert rig.state in ("damp", "estop")
    assert any(expect in w for w in rig.m.status(rig.t).warnings)
    assert (rig.step(**over).kp == 0).all()


def test_arm_refused_without_fresh_lowstate():
    rig = Rig()
    ok, msg = rig.arm()
    assert not ok and "no LowState" in msg
    rig.run(0.02)
    rig.t += 0.2  # 200 ms without a LowState
    ok, msg = rig.m.arm(rig.t)
    assert not ok and "LowState is 200 ms old" in msg


def test_accepts_any_mode_machine_with_a_negative_entry():
    rig = Rig(expected_mode_machine=(-1,))
    rig.run(0.02, mode_machine=11)
    assert rig.arm()[0]


def test_metadata_joint_order_differs():
    names = list(reversed(G1_JOINT_NAMES))
    idx = [G1_JOINT_NAMES.index(n) for n in names]
    meta = PolicyMetadata("rev", joint_names=names, default_joint_pos=list(DEFAULT[idx]))
    rig = Rig(meta)
    rig.run(0.02)
    ok, msg = rig.arm()
    assert not ok and "joint order differs" in msg


def test_bad_joint_names_raise_at_construction():
    with pytest.raises(ValueError, match="distinct G1 joints"):
        SafetyMachine(META, joint_names=("left_knee_joint", "tail_joint"))
    with pytest.raises(ValueError, match="unknown remote button"):
        SafetyMachine(META, SafetyConfig(remote_estop="L3+B"))
    with pytest.raises(ValueError, match="gain_source"):
        SafetyConfig(gain_source="policy")


# ---- ramp, stand, track, catch ----------------------------------------------------------------------------
def test_ramp_moves_smoothly_to_the_default_pose_in_ramp_s():
    rig = Rig(ramp_s=1.0)
    rig.q = np.zeros(N)  # measured pose at arming (slumped)
    rig.run(0.02)
    assert rig.arm()[0]
    t_arm = rig.t
    first = rig.step()
    np.testing.assert_allclose(first.q[:N], 0.0, atol=1e-3)  # starts at the measured pose: no jump
    np.testing.assert_allclose(first.kp[:N], META.kp, rtol=1e-6)
    while rig.t - t_arm < 0.5 - 1e-9:
        rig.step()
    np.testing.assert_allclose(rig.cmd.q[:N], 0.5 * DEFAULT, atol=1e-6)  # smoothstep(0.5) = 0.5
    assert rig.state == "ramp"
    while rig.t - t_arm < 1.0 - 1e-9:
        rig.step()
    assert rig.state == "stand"
    np.testing.assert_allclose(rig.cmd.q[:N], DEFAULT, atol=1e-6)
    assert [(t.old.value, t.new.value) for t in rig.m.transitions] == [("damp", "ramp"), ("ramp", "stand")]


def test_stand_then_track_forwards_commands_mapped_by_joint_name():
    names = tuple(reversed(G1_JOINT_NAMES))  # a robot whose motor order is the reverse of the G1 order
    meta = PolicyMetadata("test_policy")
    rig = Rig(meta, joint_names=names, ramp_s=0.1)
    rig.q = KNEES_BENT_POSE[::-1].copy()
    rig.run(0.02)
    assert rig.arm()[0]
    rig.run(0.2)
    q_cmd = DEFAULT + 0.01 * np.arange(N) / N  # small, distinct offsets (no clamp touches them)
    for _ in range(10):
        rig.t += DT
        rig.m.on_lowstate(sample(rig.t, rig.q))
        rig.m.on_command(target(rig.t, q=q_cmd))
        cmd = rig.m.tick(rig.t)
    assert rig.state == "track"
    for slot, name in enumerate(names):
        assert cmd.q[slot] == pytest.approx(q_cmd[G1_JOINT_NAMES.index(name)], abs=1e-6)
        assert cmd.kp[slot] == pytest.approx(META.kp[G1_JOINT_NAMES.index(name)], rel=1e-6)


def test_command_gains_are_clamped_to_the_metadata():
    rig = tracking(gain_source="command")
    hot = META.arrays()["kp"] * 3
    rig.m.on_command(target(rig.t, kp=hot, kd=np.full(N, 0.5)))
    cmd = rig.m.tick(rig.t)
    np.testing.assert_allclose(cmd.kp[:N], META.kp, rtol=1e-6)
    np.testing.assert_allclose(cmd.kd[:N], np.minimum(0.5, META.kd), rtol=1e-6)


def test_other_policy_is_not_tracked():
    rig = armed()
    rig.run(0.3)
    for _ in range(20):
        rig.t += DT
        rig.m.on_lowstate(sample(rig.t))
        rig.m.on_command(target(rig.t, policy_id="someone_else"))
        rig.m.tick(rig.t)
    assert rig.state == "stand"
    assert any("someone_else" in w for w in rig.m.status(rig.t).warnings)


def test_policy_damp_is_caught_in_the_default_pose():
    rig = tracking(catch_ramp_s=0.5)
    rig.m.on_command(target(rig.t, mode=0))
    rig.step()
    assert rig.state == "ramp" and "catching" in rig.m.reason
    assert rig.cmd.kp.max() > 0  # still holding, not collapsing
    rig.run(0.5)
    assert rig.state == "stand"
    np.testing.assert_allclose(rig.cmd.q[:N], DEFAULT, atol=1e-6)


def test_policy_damp_damps_when_catch_is_off():
    rig = tracking(catch_on_policy_damp=False)
    rig.m.on_command(target(rig.t, mode=0))
    assert (rig.step().kp == 0).all() and rig.state == "damp"


# ---- e-stops ----------------------------------------------------------------------------------------------
def test_service_estop_latches_damping_and_rearms():
    rig = tracking()
    ok, msg = rig.m.estop("service", rig.t)
    assert ok and rig.state == "estop" and rig.m.fault
    assert (rig.step().kp == 0).all()
    rig.run(0.5)
    assert rig.state == "estop"  # latched
    assert rig.arm()[0] and rig.state == "ramp" and not rig.m.fault


def test_remote_estop_and_arm_buttons():
    rig = Rig(ramp_s=0.1)
    rig.run(0.02)
    rig.step(buttons=START)
    assert rig.state == "ramp"  # armed on the press
    rig.run(0.2, buttons=START)
    assert rig.state == "stand"  # holding START does not re-arm repeatedly
    rig.step(buttons=L2B | (1 << Button.R1))  # extra buttons do not mask the combo
    assert rig.state == "estop" and "remote e-stop" in rig.m.reason
    assert (rig.cmd.kp == 0).all()
    rig.run(0.1, buttons=START)  # a new press (START was released meanwhile)
    assert rig.state == "ramp"
    rig.step(buttons=1 << Button.SELECT)  # the second e-stop alternative
    assert rig.state == "estop"
    rig.run(0.1, buttons=START | (1 << Button.SELECT))
    assert rig.state == "estop"  # arming refused while an e-stop combo is held


def test_remote_combos_are_configurable():
    rig = Rig(remote_estop="L1+R1", remote_arm="X+Y")
    rig.run(0.02)
    rig.step(buttons=START | L2B)  # the defaults mean nothing now
    assert rig.state == "damp"
    rig.step(buttons=(1 << Button.X) | (1 << Button.Y))
    assert rig.state == "ramp"
    rig.step(buttons=1 << Button.L1)
    assert rig.state == "ramp"
    rig.step(buttons=(1 << Button.L1) | (1 << Button.R1))
    assert rig.state == "estop"


def test_watchdog_no_lowstate():
    rig = armed(lowstate_timeout_s=0.05)
    rig.m.tick(rig.t + 0.04)
    assert rig.state == "ramp"
    cmd = rig.m.tick(rig.t + 0.06)
    assert rig.state == "estop" and "no LowState for 60 ms" in rig.m.reason and (cmd.kp == 0).all()


def test_watchdog_no_command_while_tracking():
    rig = tracking(command_timeout_s=0.1)
    rig.run(0.08)
    assert rig.state == "track"
    rig.run(0.04)
    assert rig.state == "estop" and "no JointCommand" in rig.m.reason


def test_no_command_while_standing_is_fine():
    rig = armed()
    rig.run(2.0)
    assert rig.state == "stand"


def test_watchdog_lowstate_latency_growth():
    rig = armed(max_state_lag_s=0.02)
    rig.run(0.2)
    delay = 0.0
    while rig.state != "estop" and delay < 0.2:
        delay += 0.0005  # each LowState arrives 0.5 ms later than the one before (a queue filling up)
        rig.t = round(rig.t + DT, 9)
        rig.m.on_lowstate(sample(rig.t, rig.q, tick=int(round((rig.t - delay) * 1e3)), recv_time=rig.t))
        rig.m.tick(rig.t)
    assert rig.state == "estop" and "LowState latency grew" in rig.m.reason
    assert 0.02 < delay < 0.04


def test_steady_latency_and_jitter_do_not_trigger():
    rig = armed(max_state_lag_s=0.02)
    rng = np.random.default_rng(0)
    for _ in range(2000):  # 4 s, constant 3 ms transport + up to 5 ms jitter
        rig.t = round(rig.t + DT, 9)
        late = 0.003 + 0.005 * rng.random()
        rig.m.on_lowstate(sample(rig.t, rig.q, tick=int((rig.t - late) * 1e3)))
        rig.m.tick(rig.t)
    assert rig.state == "stand"


def test_watchdog_command_latency_growth():
    rig = tracking(max_command_lag_s=0.03)
    offset = 0.001
    while rig.state == "track" and offset < 0.2:
        offset += 0.002
        rig.t = round(rig.t + DT, 9)
        rig.m.on_lowstate(sample(rig.t, rig.q))
        rig.m.on_command(target(rig.t, lag_offset=offset))
        rig.m.tick(rig.t)
    assert rig.state == "estop" and "JointCommand latency grew" in rig.m.reason


@pytest.mark.parametrize(
    ("over", "expect"),
    [
        ({"motorstate": one_hot(3, 1).astype(np.uint32)}, "motor fault: left_knee_joint code 0x1"),
        ({"temperature": np.r_[100.0, np.full(28, 40.0)]}, "motor over 100 C: left_hip_pitch_joint"),
        ({"dq": one_hot(3, 40.0)}, "joint overspeed: left_knee_joint 40.0"),
        ({"quat": np.array([np.cos(0.6), 0.0, np.sin(0.6), 0.0])}, "fall"),
    ],
)  # fmt: skip
def test_faults_estop_an_armed_robot(over, expect):
    rig = armed()
    rig.step(**over)
    assert rig.state == "estop" and expect in rig.m.reason, rig.m.reason
    assert (rig.cmd.kp == 0).all()


def test_hot_motor_warns_before_it_stops():
    rig = armed()
    rig.run(0.3, temperature=np.r_[np.full(28, 40.0), 85.0])
    assert rig.state == "stand"
    assert any("hot motors: right_wrist_yaw_joint 85.0 C" in w for w in rig.m.status(rig.t).warnings)


# ---- bad packets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "over",
    [{"q": np.r_[np.nan, KNEES_BENT_POSE[1:]]}, {"quat": np.array([np.inf, 0, 0, 0])}, {"dq": np.zeros(28)},
     {"quat": np.zeros(4)}],
)  # fmt: skip
def test_bad_lowstate_is_dropped_when_damped_and_estops_when_armed(over):
    rig = Rig()
    rig.run(0.02)
    latest = rig.m.latest
    rig.m.on_lowstate(sample(rig.t + DT, **over))
    assert rig.m.latest is latest and rig.state == "damp" and rig.m.bad_packets == 1
    rig = armed()
    rig.m.on_lowstate(sample(rig.t + DT, **over))
    assert rig.state == "estop" and "bad LowState" in rig.m.reason


def test_bad_crc_is_dropped_and_the_watchdog_catches_a_persistent_one():
    rig = armed(lowstate_timeout_s=0.05)
    rig.m.on_bad_packet("CRC mismatch", rig.t)
    assert rig.state == "ramp" and rig.m.bad_packets == 1
    for _ in range(30):  # 60 ms of bad CRCs only
        rig.t += DT
        rig.m.on_bad_packet("CRC mismatch", rig.t)
        rig.m.tick(rig.t)
    assert rig.state == "estop" and "no LowState" in rig.m.reason


def test_invalid_command_estops_while_tracking_and_is_ignored_otherwise():
    rig = armed()
    rig.run(0.3)
    rig.m.on_command(target(rig.t, q=np.full(N, np.nan)))
    assert rig.state == "stand" and rig.m.bad_commands == 1 and rig.m.command is None
    rig = tracking()
    rig.m.on_command(target(rig.t, kp=-np.ones(N)))
    assert rig.state == "estop" and "negative kp/kd" in rig.m.reason


# ---- clamps -----------------------------------------------------------------------------------------------
def test_clamps_position_velocity_and_torque_while_tracking():
    spec = G1Spec()
    rig = tracking()
    q = DEFAULT.copy()
    q[3] = 5.0  # left knee far beyond its 2.88 rad limit
    rig.m.on_command(target(rig.t, q=q))
    cmd = rig.step()
    # rate-limited: one 2 ms step at 20 rad/s from the default pose, then the PD torque must fit 139 N m
    assert cmd.q[3] == pytest.approx(DEFAULT[3] + 20.0 * DT, abs=1e-5)
    for _ in range(400):
        rig.m.on_command(target(rig.t, q=q))
        cmd = rig.step()
    assert cmd.q[3] <= spec.joint_limits[3, 1] + 1e-6
    # measured knee far away: the PD torque estimate is held at the effort limit by moving the target
    rig.q = DEFAULT.copy()
    rig.q[3] = 0.0
    rig.m.on_command(target(rig.t, q=q))
    cmd = rig.step()
    tau = cmd.kp[3] * (cmd.q[3] - rig.q[3])
    assert tau == pytest.approx(spec.effort_limit[3], rel=1e-4)
    assert "torque" in rig.m.clamped and "left_knee_joint" in rig.m.clamped["torque"]


def test_feed_forward_torque_is_clipped_to_the_effort_limit():
    rig = tracking()
    tau = np.zeros(N)
    tau[0] = 500.0
    rig.m.on_command(target(rig.t, tau_ff=tau))
    assert rig.step().tau[0] == pytest.approx(88.0)


def test_every_transition_is_recorded_with_a_reason():
    rig = tracking()
    rig.m.estop("test", rig.t)
    got = [(t.old.value, t.new.value, t.reason) for t in rig.m.transitions]
    assert [g[:2] for g in got] == [
        ("damp", "ramp"),
        ("ramp", "stand"),
        ("stand", "track"),
        ("track", "estop"),
    ]
    assert all(g[2] for g in got) and got[-1][2] == "test"


def test_armed_without_an_announced_policy_the_status_says_what_to_check(monkeypatch):
    """A policy_node in another ROS_DOMAIN_ID is never heard: the armed bridge's status names the settings."""

    class Unheard(Rig):
        def announce(self, meta, session="") -> str:  # the announcement never arrives
            return ""

    monkeypatch.setenv("ROS_DOMAIN_ID", "42")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rig = Unheard(ramp_s=0.2)
    rig.run(0.02)
    assert not any("no policy announced" in w for w in rig.m.status(rig.t).warnings)  # damped: not yet
    ok, msg = rig.arm()
    assert ok, msg
    rig.run(0.3)
    hint = [w for w in rig.m.status(rig.t).warnings if "no policy announced" in w]
    assert len(hint) == 1 and "ROS_DOMAIN_ID (here 42)" in hint[0] and "(here LOCALHOST" in hint[0]
    assert not any("no policy announced" in w for w in armed().m.status(0.5).warnings)  # announced: none
