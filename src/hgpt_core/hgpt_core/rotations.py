"""Batched quaternion helpers, scalar-first (w, x, y, z), numpy, any leading shape ``(..., 4)``."""

from __future__ import annotations

import numpy as np


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions with w >= 0. Shape: (..., 4)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (= inverse for unit quaternions). Shape: (..., 4)."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply b, then a). Shapes broadcast: (..., 4)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` over the last axis (..., 3), written out: ~3x faster than np.cross on small batches."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0), axis=-1)


def quat_apply(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4)."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def quat_apply_inv(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by the inverse of ``q``: world -> body frame."""
    return quat_apply(quat_conj(q), v)


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrices. Shape: (..., 4) -> (..., 3, 3)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        axis=-2,
    )


def axis_angle_to_quat(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Quaternion for rotation by ``angle`` [rad] (...,) about unit ``axis`` (..., 3)."""
    half = 0.5 * np.asarray(angle)[..., None]
    return np.concatenate((np.cos(half), np.sin(half) * axis), axis=-1)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle) [rad]. Shape: (..., 4) -> (..., 3)."""
    q = quat_normalize(q)
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    scale = np.where(s > 1e-9, angle / np.maximum(s, 1e-12), 2.0)
    return v * scale


def quat_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``a`` to ``b`` at fraction ``t`` (...,) along the short arc."""
    t = np.asarray(t)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-6
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, sin_theta))
    wb = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, sin_theta))
    return quat_normalize(wa * a + wb * b)


def yaw_of(q: np.ndarray) -> np.ndarray:
    """Heading angle [rad] of the body x axis projected on the ground. Shape: (..., 4) -> (...,)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def yaw_quat(q: np.ndarray) -> np.ndarray:
    """Heading-only part of ``q`` (rotation about world z). Shape: (..., 4)."""
    yaw = yaw_of(q)
    zeros = np.zeros_like(yaw)
    return np.stack((np.cos(yaw / 2), zeros, zeros, np.sin(yaw / 2)), axis=-1)


def projected_gravity(q: np.ndarray) -> np.ndarray:
    """World gravity direction (0, 0, -1) in the body frame of ``q``. Shape: (..., 3)."""
    g = np.broadcast_to(np.array([0.0, 0.0, -1.0]), q.shape[:-1] + (3,))
    return quat_apply_inv(q, g)


def roll_pitch(q: np.ndarray) -> np.ndarray:
    """Roll and pitch [rad] (ZYX Euler) of ``q``. Shape: (..., 4) -> (..., 2)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return np.stack((roll, pitch), axis=-1)


def angular_velocity_w(q: np.ndarray, dt: float) -> np.ndarray:
    """World-frame angular velocity [rad/s] of a quaternion sequence (T, 4) by central differences."""
    if len(q) < 2:
        return np.zeros(q.shape[:-1] + (3,))
    dq = quat_mul(q[1:], quat_conj(q[:-1]))  # world-frame increment between frames
    w = quat_to_rotvec(dq) / dt  # (T-1, 3), velocity at midpoints
    out = np.empty(q.shape[:-1] + (3,))
    out[0], out[-1] = w[0], w[-1]
    out[1:-1] = 0.5 * (w[1:] + w[:-1])
    return out
