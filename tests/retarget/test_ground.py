"""Stance detection, foot locking and the root height correction on hand-made trajectories."""

from __future__ import annotations

import numpy as np

from hgpt_retarget.ground import detect_stance, lock_stance_xy, root_height_offsets, runs, stance_weight


def test_runs():
    assert runs(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 3), (4, 5)]
    assert runs(np.zeros(3, dtype=bool)) == []


def test_detect_stance_on_a_stepping_foot():
    fps, t = 50.0, np.arange(100)
    lifted = (t >= 40) & (t < 60)  # left foot steps: up 10 cm and forward 30 cm in 0.4 s
    left = np.zeros((100, 3))
    left[:, 2] = 0.09 + np.where(lifted, 0.1 * np.sin(np.pi * (t - 40) / 20), 0.0)
    left[:, 0] = np.clip((t - 40) / 20, 0, 1) * 0.3
    right = np.zeros((100, 3))
    right[:, 2] = 0.09
    stance, level = detect_stance((left, right), fps)
    assert abs(level - 0.09) < 1e-6  # the ankle height while standing, not a fixed offset
    assert stance[:, 1].all()
    assert stance[:35, 0].all() and not stance[45:55, 0].any() and stance[66:, 0].all()


def test_lock_stance_xy_holds_then_releases():
    xy = np.stack([np.linspace(0, 0.1, 20), np.zeros(20)], axis=1)
    stance = np.zeros(20, dtype=bool)
    stance[:10] = True
    out = lock_stance_xy(xy, stance, blend_frames=3)
    np.testing.assert_allclose(out[:10, 0], xy[:10, 0].mean())  # held at the mean of the run
    np.testing.assert_allclose(out[14:], xy[14:])  # released after the blend


def test_root_height_offsets_hand_example():
    sole = np.array([[0.02, 0.10], [0.03, 0.12], [0.15, -0.01], [0.01, 0.05]])
    stance = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=bool)
    dz = root_height_offsets(sole, stance, smooth_frames=1)
    np.testing.assert_allclose(dz, [-0.02, -0.03, 0.01, -0.01])
    # Without stance the correction only lifts feet out of the floor.
    dz = root_height_offsets(np.array([[0.1, -0.02]]), np.zeros((1, 2), dtype=bool))
    np.testing.assert_allclose(dz, [0.02])


def test_stance_weight_ramps():
    w = stance_weight(np.array([[0], [0], [1], [1], [1], [1]], dtype=bool), frames=3)
    assert w[0, 0] == 0 and w[-1, 0] == 1 and 0 < w[2, 0] < 1


def _foot(yaw: np.ndarray, contact_xy: np.ndarray, length: float = 0.15, s: float = 1.0):
    """Ankle and toe (T, 2) of a foot of ``length`` whose point ``s`` (0 ankle, 1 toe) is ``contact_xy``."""
    f = length * np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
    ankle = contact_xy - s * f
    return ankle, ankle + f


def test_a_pivot_about_the_ball_keeps_its_turn_and_holds_the_ball():
    fps, t = 50.0, np.arange(100)
    yaw = np.radians(40.0) * np.clip((t - 20) / 60, 0, 1)  # turns 40 deg on the ball of the foot
    rng = np.random.default_rng(0)
    ball = np.array([0.3, 0.1]) + 0.003 * rng.standard_normal((100, 2))  # mocap jitter of the contact
    ankle, toe = _foot(yaw, ball)
    stance = np.ones(100, dtype=bool)
    runs_out: list = []
    out = lock_stance_xy(ankle, stance, toe_xy=toe, fps=fps, out_runs=runs_out)
    (run,) = runs_out
    assert run.kind == "pivot" and run.contact >= 0.8 and run.yaw_range_rad > np.radians(35)
    held_ball = out + run.contact * (toe - ankle)
    assert np.linalg.norm(held_ball - held_ball.mean(axis=0), axis=1).max() < 0.01  # the ball stays put
    swept = np.linalg.norm(out[-1] - out[0])
    assert swept > 0.8 * np.linalg.norm(ankle[-1] - ankle[0])  # the ankle turns about it (kept)
    # The old rule (ankle held at its mean) erased that turn:
    assert np.linalg.norm(np.ptp(lock_stance_xy(ankle, stance), axis=0)) < 1e-9


def test_jitter_is_held_and_a_shuffle_is_followed_smoothly():
    fps = 50.0
    rng = np.random.default_rng(1)
    jitter = 0.004 * rng.standard_normal((100, 2))
    ankle, toe = _foot(np.zeros(100), np.array([0.0, 0.0]) + jitter, s=0.0)
    stance = np.ones(100, dtype=bool)
    runs_out: list = []
    out = lock_stance_xy(ankle, stance, toe_xy=toe, fps=fps, out_runs=runs_out)
    assert runs_out[0].kind == "planted" and np.ptp(out, axis=0).max() < 1e-9  # artefact removed
    slide = np.stack([np.linspace(0.0, 0.2, 100), np.zeros(100)], axis=1) + jitter  # 20 cm in 2 s
    ankle, toe = _foot(np.zeros(100), slide, s=0.0)
    runs_out.clear()
    out = lock_stance_xy(ankle, stance, toe_xy=toe, fps=fps, out_runs=runs_out)
    assert runs_out[0].kind == "shuffle"
    assert out[-1, 0] - out[0, 0] > 0.15  # the intended slide is kept ...
    rough = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()  # noqa: E731
    assert rough(out) < 0.3 * rough(ankle)  # ... without the jitter
