"""Quaternion axioms and agreement with MuJoCo's own conversions."""

import mujoco
import numpy as np

from hgpt_core import rotations as R

rng = np.random.default_rng(0)


def rand_quat(n):
    return R.quat_normalize(rng.normal(size=(n, 4)))


def test_product_associative_and_inverse():
    a, b, c = rand_quat(50), rand_quat(50), rand_quat(50)
    np.testing.assert_allclose(R.quat_mul(R.quat_mul(a, b), c), R.quat_mul(a, R.quat_mul(b, c)), atol=1e-12)
    ident = R.quat_normalize(R.quat_mul(a, R.quat_conj(a)))
    np.testing.assert_allclose(ident, np.tile([1.0, 0, 0, 0], (50, 1)), atol=1e-12)


def test_apply_matches_mujoco_matrix():
    q = rand_quat(20)
    v = rng.normal(size=(20, 3))
    for i in range(20):
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, q[i])
        np.testing.assert_allclose(R.quat_to_mat(q[i]), mat.reshape(3, 3), atol=1e-12)
        np.testing.assert_allclose(R.quat_apply(q[i], v[i]), mat.reshape(3, 3) @ v[i], atol=1e-12)
    np.testing.assert_allclose(R.quat_apply_inv(q, R.quat_apply(q, v)), v, atol=1e-12)


def test_slerp_endpoints_and_midpoint():
    a, b = rand_quat(10), rand_quat(10)
    np.testing.assert_allclose(np.abs(np.sum(R.quat_slerp(a, b, np.zeros(10)) * a, -1)), 1, atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(R.quat_slerp(a, b, np.ones(10)) * b, -1)), 1, atol=1e-9)
    m = R.quat_slerp(a, b, np.full(10, 0.5))
    d1 = np.linalg.norm(R.quat_to_rotvec(R.quat_mul(R.quat_conj(a), m)), axis=-1)
    d2 = np.linalg.norm(R.quat_to_rotvec(R.quat_mul(R.quat_conj(m), b)), axis=-1)
    np.testing.assert_allclose(d1, d2, atol=1e-9)


def test_angular_velocity_of_constant_spin():
    dt, w = 0.02, np.array([0.3, -1.2, 2.0])
    t = np.arange(40) * dt
    angle = np.linalg.norm(w) * t
    q = R.axis_angle_to_quat(np.broadcast_to(w / np.linalg.norm(w), (40, 3)), angle)
    np.testing.assert_allclose(R.angular_velocity_w(q, dt), np.tile(w, (40, 1)), atol=1e-9)


def test_yaw_roll_pitch_and_gravity():
    q = R.axis_angle_to_quat(np.array([0, 0, 1.0]), np.array(0.7))
    assert np.isclose(R.yaw_of(q), 0.7)
    np.testing.assert_allclose(R.projected_gravity(q), [0, 0, -1], atol=1e-12)
    tilt = R.axis_angle_to_quat(np.array([1.0, 0, 0]), np.array(0.4))
    np.testing.assert_allclose(R.roll_pitch(R.quat_mul(q, tilt)), [0.4, 0.0], atol=1e-12)
    np.testing.assert_allclose(R.yaw_quat(R.quat_mul(q, tilt)), q, atol=1e-12)
