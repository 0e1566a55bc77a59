"""Array helpers of the safety machine (no ROS): target clamps (joint limits, joint speed, PD torque
estimate), the ramp shape, and shape/finiteness checks of incoming arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def smoothstep(x: float) -> float:
    """3x^2 - 2x^3 on [0, 1]: zero slope at both ends (no velocity jump when a ramp starts or ends)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class PDTargets:
    """A PD command for n motors: ``tau = kp (q - q_meas) + kd (dq - dq_meas) + tau_ff``; all shapes (n,).

    Attributes:
        q: Target angles [rad].  dq: Target speeds [rad/s].  tau_ff: Feed-forward torque [N m].
        kp: Stiffness [N m/rad].  kd: Damping [N m s/rad].
    """

    q: np.ndarray
    dq: np.ndarray
    tau_ff: np.ndarray
    kp: np.ndarray
    kd: np.ndarray


@dataclass(frozen=True)
class JointBounds:
    """What the clamps keep a command inside, for n motors.

    Attributes:
        limits: Position limits [rad], (n, 2) as (low, high).
        max_speed: Largest target speed [rad/s], (n,).
        effort: Torque limit [N m], (n,).
    """

    limits: np.ndarray
    max_speed: np.ndarray
    effort: np.ndarray


def clamp_targets(
    des: PDTargets,
    prev: np.ndarray | None,
    dt: float,
    q: np.ndarray,
    dq: np.ndarray,
    bounds: JointBounds,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Clamp the PD targets ``des`` given the last clamped target ``prev`` (n,) or None, the time since it
    ``dt`` [s] and the measured state ``q``, ``dq`` (n,).

    Order: position limits, rate limit (``|q_t - prev| <= max_speed * dt``), target speed
    (``|dq*| <= max_speed``), then the PD torque estimate ``kp (q* - q) + kd (dq* - dq) + tau_ff`` is kept
    inside ``[-effort, effort]`` by moving q* towards q.
    Returns (q*, dq*, tau_ff, masks of the joints each clamp touched: ``position``, ``velocity``,
    ``target_speed``, ``torque``).
    """
    kp, effort = des.kp, bounds.effort
    lo, hi = bounds.limits[:, 0], bounds.limits[:, 1]
    q1 = np.clip(des.q, lo, hi)
    q2 = q1 if prev is None else np.clip(q1, prev - bounds.max_speed * dt, prev + bounds.max_speed * dt)
    # dq* is sent as float32: 1e300 would reach the motor as inf (kd * inf torque)
    dq_des = np.clip(des.dq, -bounds.max_speed, bounds.max_speed)
    tau_ff = np.clip(des.tau_ff, -effort, effort)
    damp_term = des.kd * (dq_des - dq) + tau_ff
    tau = kp * (q2 - q) + damp_term
    over = (np.abs(tau) > effort) & (kp > 0)
    safe_kp = np.where(kp > 0, kp, 1.0)
    q3 = np.where(over, q + (np.clip(tau, -effort, effort) - damp_term) / safe_kp, q2)
    q3 = np.clip(q3, lo, hi)
    masks = {"position": q1 != des.q, "velocity": q2 != q1, "target_speed": dq_des != des.dq, "torque": over}
    return q3, dq_des, tau_ff, masks


def shape_problems(n: int, **arrays: np.ndarray) -> list[str]:
    """'name has shape ..' / 'name has NaN/inf' for every array that is not a finite (n,) vector."""
    out = []
    for name, v in arrays.items():
        v = np.asarray(v)
        if v.shape != (n,):
            out.append(f"{name} has shape {v.shape}, expected ({n},)")
        elif not np.isfinite(v).all():
            out.append(f"{name} has NaN/inf")
    return out


def named_values(names: tuple[str, ...], idx: np.ndarray, values: np.ndarray, unit: str) -> str:
    """'joint value unit, ...' for the joints ``idx``."""
    return ", ".join(f"{names[i]} {float(values[i]):.1f} {unit}" for i in idx)
