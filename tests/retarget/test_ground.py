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
