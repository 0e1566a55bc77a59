"""PolicyController: mode state machine and every guard, driven with real reference frames."""

import numpy as np
import pytest

from hgpt_core.formats import load_clip
from hgpt_core.g1 import G1Spec
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.reference import ReferenceMotion
from hgpt_core.state import ReferenceFrame, RobotState
from hgpt_policy.controller import (
    ControllerConfig,
    Mode,
    PolicyController,
    TokenPolicy,
)

UPRIGHT = np.array([1.0, 0, 0, 0])


class ConstantRuntime:
    """A token runtime with a fixed action (zeros = hold the default pose); records the tokens it saw."""

    def __init__(self, action=None):
        self.action = np.zeros(29) if action is None else action
        self.seen: list[np.ndarray] = []
        self.resets = 0

    def step(self, obs):
        self.seen.append(obs)
        return self.action

    def reset(self):
        self.resets += 1


def ConstantPolicy(action=None) -> TokenPolicy:  # noqa: N802
    return TokenPolicy(
        ConstantRuntime(action), PolicyMetadata("constant", context_len=1, inference="single_frame")
    )


@pytest.fixture(scope="module")
def ref(shared_data_or_skip):
    clip = load_clip(shared_data_or_skip / "motions/g1/lafan1/walk1_subject1.csv", fps=30).slice(2550, 2700)
    return ReferenceMotion.from_clip(clip)


def state(t, q=None, quat=UPRIGHT) -> tuple[RobotState, float]:
    """(a measured state, its receive stamp t [s]) for ``ctrl.on_state(*state(t))``."""
    q = G1Spec().default_joint_pos.copy() if q is None else q
    return RobotState(joint_pos=q, joint_vel=np.zeros(29), root_quat_w=quat, root_ang_vel_b=np.zeros(3)), t


def ref_sample(ref, i, t) -> tuple[ReferenceFrame, float]:
    """(frame i of the clip, its receive stamp t [s]) for ``ctrl.on_reference(*ref_sample(...))``."""
    return ref.select(i), t


def run_to_track(ctrl, ref, t0=0.0):
    ctrl.on_state(*state(t0))
    assert ctrl.set_mode(Mode.STAND)[0]
    t = t0
    for _ in range(int(2.2 / 0.02)):
        t += 0.02
        ctrl.on_state(*state(t))
        cmd, st = ctrl.tick(t)
        assert cmd.mode == Mode.STAND
    assert ctrl.set_mode(Mode.TRACK)[0]
    ctrl.on_reference(*ref_sample(ref, 0, t))
    return t


def test_starts_damped_and_track_needs_stand():
    ctrl = PolicyController(ConstantPolicy())
    cmd, st = ctrl.tick(0.0)
    assert cmd.mode == Mode.DAMP and np.all(cmd.kp == 0) and np.all(cmd.kd > 0)
    assert st.state == "waiting_for_robot_state"
    ok, msg = ctrl.set_mode(Mode.TRACK)
    assert not ok and "STAND" in msg


def test_stand_ramps_from_measured_pose_to_default():
    ctrl = PolicyController(ConstantPolicy(), cfg=ControllerConfig(stand_ramp_s=1.0))
    q0 = np.zeros(29)
    ctrl.on_state(*state(0.0, q0))
    ctrl.set_mode(Mode.STAND)
    targets = []
    for k in range(60):
        t = 0.02 * k
        ctrl.on_state(*state(t, q0))
        cmd, st = ctrl.tick(t)
        targets.append(cmd.q)
    d = G1Spec().default_joint_pos
    np.testing.assert_allclose(targets[0], q0)
    np.testing.assert_allclose(targets[25], 0.5 * d, atol=1e-9)
    np.testing.assert_allclose(targets[-1], d)
    assert st.state == "standing"


def test_tracks_with_real_reference_and_builds_161_token(ref):
    pol = ConstantPolicy(np.full(29, 0.1))
    ctrl = PolicyController(pol)
    t = run_to_track(ctrl, ref)
    for i in range(1, 20):
        t += 0.02
        ctrl.on_state(*state(t))
        ctrl.on_reference(*ref_sample(ref, i, t))
        cmd, st = ctrl.tick(t)
    assert cmd.mode == Mode.TRACK and st.state == "tracking"
    assert pol.runtime.seen[-1].shape == (161,) and np.isfinite(pol.runtime.seen[-1]).all()
    np.testing.assert_allclose(cmd.q, G1Spec().default_joint_pos + 0.025, atol=1e-9)
    np.testing.assert_allclose(cmd.kp, pol.meta.kp)


def test_stale_reference_holds_then_damps(ref):
    ctrl = PolicyController(ConstantPolicy())
    t = run_to_track(ctrl, ref)
    ctrl.on_state(*state(t + 0.02))
    cmd, _ = ctrl.tick(t + 0.02)
    assert cmd.mode == Mode.TRACK
    ctrl.on_state(*state(t + 0.2))
    cmd, st = ctrl.tick(t + 0.2)
    assert cmd.mode == Mode.HOLD and any("stale" in w for w in st.warnings)
    ctrl.on_state(*state(t + 0.8))
    cmd, st = ctrl.tick(t + 0.8)
    assert cmd.mode == Mode.DAMP and st.state == "reference_lost"
    ctrl.on_reference(*ref_sample(ref, 5, t + 0.82))
    ctrl.on_state(*state(t + 0.82))
    assert ctrl.tick(t + 0.82)[0].mode == Mode.DAMP  # no silent restart: a new STAND request is needed


def test_stale_or_nan_state_damps(ref):
    ctrl = PolicyController(ConstantPolicy())
    t = run_to_track(ctrl, ref)
    cmd, st = ctrl.tick(t + 0.5)  # no new state for 0.5 s
    assert cmd.mode == Mode.DAMP and st.state == "stale_robot_state"
    bad, stamp = state(t + 0.52)
    bad.joint_pos[3] = np.nan
    ctrl.on_state(bad, stamp)
    cmd, st = ctrl.tick(t + 0.52)
    assert cmd.mode == Mode.DAMP and st.fault and np.isfinite(cmd.q).all()


def test_nan_policy_output_latches_fault_until_acknowledged(ref):
    ctrl = PolicyController(ConstantPolicy(np.full(29, np.nan)))
    t = run_to_track(ctrl, ref)
    ctrl.on_state(*state(t + 0.02))
    cmd, st = ctrl.tick(t + 0.02)
    assert cmd.mode == Mode.DAMP and st.fault and "non-finite" in st.reason
    ok, msg = ctrl.set_mode(Mode.STAND)
    assert not ok and "acknowledge" in msg
    assert ctrl.set_mode(Mode.DAMP)[0] and ctrl.set_mode(Mode.STAND)[0]


def test_fall_detector_damps(ref):
    ctrl = PolicyController(ConstantPolicy())
    t = run_to_track(ctrl, ref)
    tilted = np.array([np.cos(0.7), np.sin(0.7), 0, 0])  # 80 deg roll
    ctrl.on_state(*state(t + 0.02, quat=tilted))
    cmd, st = ctrl.tick(t + 0.02)
    assert cmd.mode == Mode.DAMP and st.fault and "fall" in st.reason


def test_targets_clamped_and_rate_limited(ref):
    ctrl = PolicyController(ConstantPolicy(np.full(29, 100.0)))
    t = run_to_track(ctrl, ref)
    prev = ctrl.last_target.copy()
    ctrl.on_state(*state(t + 0.02))
    cmd, st = ctrl.tick(t + 0.02)
    spec = G1Spec()
    assert np.all(cmd.q <= spec.joint_limits[:, 1] + 1e-12)
    assert np.all(np.abs(cmd.q - prev) <= spec.velocity_limit * 0.02 + 1e-12)
    assert "targets clamped to joint limits" in st.warnings and "targets rate-limited" in st.warnings


def test_request_made_while_damped_survives_a_stale_start():
    ctrl = PolicyController(ConstantPolicy())
    assert ctrl.set_mode(Mode.STAND)[0]
    ctrl.on_state(*state(0.0))
    assert ctrl.tick(0.5)[1].state == "stale_robot_state"  # the bridge hiccuped before anything moved
    ctrl.on_state(*state(0.52))
    assert ctrl.tick(0.52)[0].mode == Mode.STAND  # the pending request goes ahead


def test_track_request_before_any_reference_stands_and_waits(ref):
    """A start-up TRACK request while the reference source still starts: hold the default pose, then track."""
    ctrl = PolicyController(ConstantPolicy())
    ctrl.on_state(*state(0.0))
    ctrl.requested = Mode.TRACK  # what policy_node's start_mode:=track does
    t = 0.0
    for _ in range(int(3.0 / 0.02)):  # longer than the stand ramp and than ref_damp_s
        t += 0.02
        ctrl.on_state(*state(t))
        cmd, st = ctrl.tick(t)
        assert cmd.mode == Mode.STAND
    assert st.state == "waiting_for_reference"
    ctrl.on_reference(*ref_sample(ref, 0, t))
    ctrl.on_state(*state(t + 0.02))
    assert ctrl.tick(t + 0.02)[0].mode == Mode.TRACK


def test_imu_quaternion_is_normalised_within_tolerance_and_a_fault_beyond(ref):
    """Issue 15 item 5: a non-unit or zero quaternion changed commands by up to 2 rad and hid a fall."""
    ctrl = PolicyController(ConstantPolicy())
    t = run_to_track(ctrl, ref)
    ctrl.on_reference(*ref_sample(ref, 1, t + 0.02))
    ctrl.on_state(*state(t + 0.02, quat=UPRIGHT * 1.05))  # within 0.1: normalised, still tracking
    cmd, st = ctrl.tick(t + 0.02)
    assert cmd.mode == Mode.TRACK and np.isclose(np.linalg.norm(ctrl.state.root_quat_w), 1.0)
    for bad in (np.zeros(4), UPRIGHT * 0.5, UPRIGHT * 3.0):
        ctrl.on_state(*state(t + 0.04, quat=bad))
        cmd, st = ctrl.tick(t + 0.04)
        assert cmd.mode == Mode.DAMP and st.fault and "IMU quaternion norm" in st.reason
        assert (cmd.kp == 0).all()


def test_an_old_or_future_state_stamp_damps(ref):
    """Issue 15 item 5: a 5 s old header was accepted (the node stamped states with their receive time)."""
    ctrl = PolicyController(ConstantPolicy())
    t = run_to_track(ctrl, ref)
    for stamp in (t - 5.0, t + 5.0):
        ctrl.on_reference(*ref_sample(ref, 1, t))
        ctrl.on_state(*state(stamp))
        cmd, st = ctrl.tick(t)
        assert cmd.mode == Mode.DAMP and st.state == "stale_robot_state", st
