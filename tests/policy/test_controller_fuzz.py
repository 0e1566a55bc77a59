"""Seeded fuzzing of policy_node's subscribed messages (issue 15): random RobotState / MotionReference
messages (NaN, Inf, huge, zero or garbage quaternions, odd stamps) go through the node's converters
(hgpt_policy.msg_conv) into the controller with random mode requests. Every tick answers; every command is
finite, inside the joint limits, and damped (kp = 0) whenever the state it answers is not usable."""

from __future__ import annotations

import numpy as np
import pytest

from hgpt_core.g1 import KNEES_BENT_POSE, G1Spec
from hgpt_msgs.msg import MotionReference, RobotState
from hgpt_policy.controller import Mode, PolicyController
from hgpt_policy.loader import load_tracking_policy
from hgpt_policy.msg_conv import reference_frame_from_msg, robot_state_from_msg

ODD = [np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, 1e-320, 7.0]


def odd_array(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    v = base.copy()
    idx = rng.integers(0, len(v), size=rng.integers(1, len(v) + 1))
    v[idx] = rng.choice(ODD, size=len(idx)) if rng.random() < 0.7 else rng.normal(0, 50, size=len(idx))
    return v


def robot_state(rng: np.random.Generator, t: float, garbage: bool) -> RobotState:
    msg = RobotState()
    q = KNEES_BENT_POSE + rng.normal(0, 0.02, 29)
    quat = np.array([1.0, 0.0, 0.0, 0.0]) + rng.normal(0, 0.01, 4)
    if garbage:
        field = rng.integers(4)
        q = odd_array(rng, q) if field == 0 else q
        quat = odd_array(rng, quat) if field == 1 else quat
        msg.dq = [float(v) for v in (odd_array(rng, np.zeros(29)) if field == 2 else np.zeros(29))]
        if field == 3:
            msg.imu_angular_velocity.x = float(rng.choice(ODD))
    msg.q = [float(v) for v in q]
    o = msg.imu_orientation
    o.w, o.x, o.y, o.z = (float(v) for v in quat)
    return msg


def reference(rng: np.random.Generator, garbage: bool) -> MotionReference:
    msg = MotionReference()
    msg.valid = bool(rng.random() < 0.9)
    q = KNEES_BENT_POSE + rng.normal(0, 0.1, 29)
    msg.joint_positions = [float(v) for v in (odd_array(rng, q) if garbage else q)]
    msg.joint_velocities = [float(v) for v in (odd_array(rng, np.zeros(29)) if garbage else np.zeros(29))]
    msg.root_position.z = float(rng.choice(ODD)) if garbage and rng.random() < 0.5 else 0.78
    msg.root_orientation.w = float(rng.choice(ODD)) if garbage and rng.random() < 0.5 else 1.0
    return msg


@pytest.mark.parametrize("spec,n", [("zero", 3000), ("twist2", 600)])
def test_random_messages_never_escape_and_damp_when_unusable(spec, n):
    rng = np.random.default_rng(15)
    ctrl = PolicyController(load_tracking_policy(spec))
    lo, hi = G1Spec().joint_limits.T
    t, modes = 0.0, set()
    for k in range(n):
        t += 0.02
        r = rng.random()
        if r < 0.05:
            ctrl.set_mode(Mode(int(rng.integers(0, 4))))  # HOLD is refused: set_mode says so, never raises
        garbage = rng.random() < 0.3
        age = float(rng.choice([0.0, 0.0, 0.0, 5.0, -3.0, 0.15]))  # fresh, old, future, just stale
        ctrl.on_state(robot_state_from_msg(robot_state(rng, t, garbage)), t - age)
        if rng.random() < 0.8:
            frame = reference_frame_from_msg(reference(rng, rng.random() < 0.3))
            if frame is not None:
                ctrl.on_reference(frame, t)
        cmd, st = ctrl.tick(t)
        modes.add(cmd.mode)
        assert np.isfinite(cmd.q).all() and np.isfinite(cmd.kp).all() and np.isfinite(cmd.kd).all(), k
        assert (cmd.kp >= 0).all() and (cmd.kd >= 0).all()
        s = ctrl.state
        usable = (
            np.isfinite(s.joint_pos).all() and np.isfinite(s.joint_vel).all()
            and np.isfinite(s.root_quat_w).all() and np.isfinite(s.root_ang_vel_b).all()
            and abs(np.linalg.norm(s.root_quat_w) - 1.0) <= 0.1
            and age <= 0.1
            and age >= -0.5
        )  # fmt: skip
        if not usable:
            assert cmd.mode == Mode.DAMP and (cmd.kp == 0).all(), (k, st)
        if cmd.mode != Mode.DAMP:
            assert (cmd.q >= lo - 1e-9).all() and (cmd.q <= hi + 1e-9).all(), k
        if st.fault and rng.random() < 0.2:
            ctrl.set_mode(Mode.DAMP)  # acknowledge, so the run also visits STAND/TRACK again
            ctrl.set_mode(Mode.STAND)
    assert Mode.DAMP in modes and Mode.STAND in modes  # it did leave DAMP between the garbage
