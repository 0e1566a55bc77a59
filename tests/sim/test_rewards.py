"""Keypoint reward, fall rule and metrics on hand-made states."""

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from hgpt_core.g1 import END_EFFECTOR_BODIES, JOINT_LIMITS, KEYPOINT_BODIES
from hgpt_core.rotations import axis_angle_to_quat, quat_mul
from hgpt_sim.backend import PhysicsState
from hgpt_sim.metrics import step_errors
from hgpt_sim.rewards import (
    FallConfig,
    FallDetector,
    RewardConfig,
    keypoint_weights,
    max_reward,
    rotation_angle,
    tracking_reward,
)

CFG = RewardConfig()
W = keypoint_weights(KEYPOINT_BODIES, CFG)


def perfect(bank, frame: int = 10) -> tuple[PhysicsState, object]:
    """A robot state that equals the reference (bodies copied from the reference FK)."""
    ref = bank.frame(np.array([0]), np.array([frame]))
    on_ref = dataclasses.asdict(ref.as_robot_state())  # copies: the test edits the state
    state = PhysicsState(**on_ref, self_contact=np.zeros(1), diverged=np.zeros(1, dtype=bool))
    return state, ref


def reward(state, ref, targets=None, prev=None):
    t = state.joint_pos if targets is None else targets
    return tracking_reward(state, ref, t, t if prev is None else prev, W, CFG, nsub=4)


def test_weights_follow_table3():
    assert W.sum() == pytest.approx(7 * 1.5 + 7 * 0.75)
    assert W[KEYPOINT_BODIES.index("pelvis")] == 1.5 and W[KEYPOINT_BODIES.index("torso_link")] == 0.75


def test_perfect_tracking_gives_max_reward(standing_bank):
    state, ref = perfect(standing_bank)
    r = reward(state, ref)
    for k in ("pos", "rot", "vel"):
        assert r[k][0] == pytest.approx(W.sum())
    for k in ("self_collision", "smoothness", "joint_limit"):
        assert r[k][0] == 0.0
    assert r["total"][0] == pytest.approx(max_reward(W))


def test_errors_reduce_each_term_by_its_alpha(standing_bank):
    state, ref = perfect(standing_bank)
    state.body_pos_w += np.array([0.1, -0.05, 0.0])  # L1 error 0.15 m on every keypoint
    yaw = axis_angle_to_quat(np.array([0.0, 0.0, 1.0]), np.array(0.3))
    state.body_quat_w = quat_mul(yaw, state.body_quat_w)  # 0.3 rad on every keypoint
    state.body_lin_vel_w += np.array([1.0, 0.0, 0.0])
    r = reward(state, ref)
    assert r["pos"][0] == pytest.approx(W.sum() * np.exp(-1.0 * 0.15))
    assert r["rot"][0] == pytest.approx(W.sum() * np.exp(-2.0 * 0.3))
    assert r["vel"][0] == pytest.approx(W.sum() * np.exp(-0.03 * 1.0))
    assert r["total"][0] < max_reward(W)


def test_penalties(standing_bank):
    state, ref = perfect(standing_bank)
    state.self_contact[:] = 2  # 2 of 4 physics steps in self contact
    state.joint_pos[0, 3] = JOINT_LIMITS[3, 1] + 0.1  # knee beyond its hard limit
    targets = state.joint_pos.copy()
    r = reward(state, ref, targets=targets, prev=targets + 0.1)
    assert r["self_collision"][0] == pytest.approx(-0.5)
    assert r["smoothness"][0] == pytest.approx(-29 * 0.01)
    lo, hi = JOINT_LIMITS[3]
    soft_hi = (lo + hi) / 2 + 0.9 * (hi - lo) / 2
    assert r["joint_limit"][0] == pytest.approx(-10.0 * (JOINT_LIMITS[3, 1] + 0.1 - soft_hi))


def test_rotation_angle_is_the_log_map_angle():
    q = axis_angle_to_quat(np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.5, 3.0]))
    assert rotation_angle(q, np.array([1.0, 0, 0, 0])) == pytest.approx([0.0, 0.5, 3.0])
    assert rotation_angle(-q, np.array([1.0, 0, 0, 0])) == pytest.approx([0.0, 0.5, 3.0])  # double cover


@pytest.fixture
def detector():
    return FallDetector(KEYPOINT_BODIES, FallConfig())


def rotate_all(state, axis, angle):
    q = axis_angle_to_quat(np.array(axis, dtype=float), np.array(angle))
    state.body_quat_w = quat_mul(q, state.body_quat_w)
    state.root_quat_w[:] = quat_mul(q, state.root_quat_w)


def test_fall_rule_height(standing_bank, detector):
    state, ref = perfect(standing_bank)
    assert not detector(state, ref)["any"][0]
    a = KEYPOINT_BODIES.index("torso_link")
    state.body_pos_w[:, a, 2] -= 0.2
    assert not detector(state, ref)["any"][0]
    state.body_pos_w[:, a, 2] -= 0.1
    out = detector(state, ref)
    assert out["anchor_height"][0] and out["any"][0]


def test_fall_rule_end_effector(standing_bank, detector):
    state, ref = perfect(standing_bank)
    state.body_pos_w[:, KEYPOINT_BODIES.index(END_EFFECTOR_BODIES[2]), 2] += 0.3  # a hand 0.3 m too high
    out = detector(state, ref)
    assert out["ee_height"][0] and not out["anchor_height"][0]


def test_fall_rule_tilt_but_never_yaw(standing_bank, detector):
    state, ref = perfect(standing_bank)
    rotate_all(state, [0, 0, 1], 3.0)  # facing almost backwards: not a fall
    assert not detector(state, ref)["any"][0]
    state, ref = perfect(standing_bank)
    rotate_all(state, [0, 1, 0], 0.5)  # pitch 0.5 rad: |cos 0.5 - 1| = 0.12 < 0.8
    assert not detector(state, ref)["tilt"][0]
    rotate_all(state, [0, 1, 0], 1.0)  # pitch 1.5 rad: |cos 1.5 - 1| = 0.93 > 0.8
    assert detector(state, ref)["tilt"][0]


def test_fall_rule_nan_and_joint_limit(standing_bank):
    state, ref = perfect(standing_bank)
    state.joint_pos[0, 3] = np.nan
    assert FallDetector(KEYPOINT_BODIES, FallConfig())(state, ref)["nan"][0]
    state, ref = perfect(standing_bank)
    state.joint_pos[0, 3] = JOINT_LIMITS[3, 1] + 0.2
    assert not FallDetector(KEYPOINT_BODIES, FallConfig())(state, ref)["any"][0]
    assert FallDetector(KEYPOINT_BODIES, replace(FallConfig(), joint_limit=0.1))(state, ref)["joint_limit"][0]


def test_metrics_local_vs_global(standing_bank):
    state, ref = perfect(standing_bank)
    e = step_errors(state, ref)
    assert all(v[0] == pytest.approx(0.0, abs=1e-9) for v in e.values())
    # Shift and turn the whole robot about its root: pose error 0 in its own heading frame, not globally.
    root = state.root_pos_w.copy()
    q = axis_angle_to_quat(np.array([0.0, 0.0, 1.0]), np.array(0.7))
    from hgpt_core.rotations import quat_apply

    state.body_pos_w = quat_apply(q, state.body_pos_w - root[:, None]) + root[:, None] + [0.5, 0, 0]
    state.root_pos_w[:, 0] += 0.5
    state.root_quat_w[:] = quat_mul(q, state.root_quat_w)
    e = step_errors(state, ref)
    assert e["mpkpe_local_mm"][0] == pytest.approx(0.0, abs=1e-6)
    assert e["mpkpe_global_mm"][0] > 400.0
    assert e["mpjpe"][0] == 0.0


def test_nan_state_gives_a_finite_reward(standing_bank):
    state, ref = perfect(standing_bank)
    state.body_pos_w[0, 3] = np.nan
    r = reward(state, ref)
    assert all(np.isfinite(v).all() for v in r.values())
    assert r["pos"][0] == 0.0 and r["rot"][0] == pytest.approx(W.sum())


def test_evaluation_fall_rule_upright_with_a_raised_foot_is_not_a_fall(standing_bank):
    """DESIGN §5: a hand/foot off its height is a tracking failure (training termination), not a fall."""
    state, ref = perfect(standing_bank)
    foot = KEYPOINT_BODIES.index(END_EFFECTOR_BODIES[0])
    state.body_pos_w[:, foot, 2] += 0.4  # a kick the reference does not make: upright torso
    train, ev = (
        FallDetector(KEYPOINT_BODIES, FallConfig()),
        FallDetector(KEYPOINT_BODIES, FallConfig.evaluation()),
    )
    assert train(state, ref)["ee_height"][0] and train(state, ref)["any"][0]
    assert not ev(state, ref)["any"][0] and not ev(state, ref)["ee_height"][0]
    assert ev.ee_height_error(state, ref)[0] == pytest.approx(
        0.4
    )  # still measured: the tracking-failure column


def test_evaluation_fall_rule_tilted_torso_is_a_fall(standing_bank):
    state, ref = perfect(standing_bank)
    rotate_all(state, [1, 0, 0], 1.5)  # rolled 1.5 rad: |cos 1.5 - 1| = 0.93 > 0.8
    out = FallDetector(KEYPOINT_BODIES, FallConfig.evaluation())(state, ref)
    assert out["tilt"][0] and out["any"][0]


def test_evaluation_fall_rule_anchor_is_one_sided(standing_bank):
    ev, train = (
        FallDetector(KEYPOINT_BODIES, FallConfig.evaluation()),
        FallDetector(KEYPOINT_BODIES, FallConfig()),
    )
    a = KEYPOINT_BODIES.index("torso_link")
    state, ref = perfect(standing_bank)
    state.body_pos_w[:, a, 2] += 0.3  # 0.3 m ABOVE the reference (a jump the reference does not make)
    assert not ev(state, ref)["any"][0] and train(state, ref)["anchor_height"][0]
    state, ref = perfect(standing_bank)
    state.body_pos_w[:, a, 2] -= 0.3  # 0.3 m below: fallen or collapsed
    assert ev(state, ref)["anchor_height"][0] and train(state, ref)["anchor_height"][0]
    state, ref = perfect(standing_bank)
    state.root_ang_vel_b[0, 0] = np.inf
    assert ev(state, ref)["nan"][0] and ev(state, ref)["any"][0]


def test_training_fall_rule_defaults_unchanged():
    c = FallConfig()
    assert (c.anchor_height, c.tilt, c.ee_height, c.anchor_below_only, c.joint_limit) == (
        0.25,
        0.8,
        0.25,
        False,
        None,
    )


def test_mpkpe_reference_heading_frame_hand_computed(standing_bank):
    """Robot = reference turned by yaw 90 deg about its root and moved 1 m: own-heading 0, reference-heading
    = mean_k sqrt(2) r_k (r_k: horizontal distance of keypoint k from the root), global adds the 1 m."""
    state, ref = perfect(standing_bank)
    from hgpt_core.rotations import quat_apply

    root = state.root_pos_w.copy()
    q = axis_angle_to_quat(np.array([0.0, 0.0, 1.0]), np.array(np.pi / 2))
    rel = state.body_pos_w - root[:, None]
    state.body_pos_w = quat_apply(q, rel) + root[:, None] + [0.0, 1.0, 0.0]
    state.root_pos_w[:, 1] += 1.0
    state.root_quat_w[:] = quat_mul(q, state.root_quat_w)
    r_xy = np.linalg.norm(rel[0, :, :2], axis=-1)  # rotating by 90 deg moves a point by sqrt(2) r
    e = step_errors(state, ref)
    assert e["mpkpe_local_mm"][0] == pytest.approx(0.0, abs=1e-6)
    assert e["mpkpe_ref_heading_mm"][0] == pytest.approx(1000 * np.sqrt(2) * r_xy.mean(), rel=1e-9)
    moved = quat_apply(q, rel[0]) + [0.0, 1.0, 0.0] - rel[0]
    assert e["mpkpe_global_mm"][0] == pytest.approx(1000 * np.linalg.norm(moved, axis=-1).mean(), rel=1e-9)
