"""Observation / token layout shared by the simulator, training and the policy node.

One token ``e_t = [proprioception s_t, reference terms]`` is built by :func:`build_obs` from an
:class:`ObsInput`, made by :meth:`ObsInput.from_state` from a :class:`~hgpt_core.state.RobotState` and a
:class:`~hgpt_core.state.ReferenceFrame`; the simulator fills those from MuJoCo state, the policy node from
ROS messages, so the two can never disagree. Values are SI (rad, rad/s, m, m/s); any normalisation lives
inside the policy.
The reference terms describe the reference frame the robot should reach next (the caller passes the
reference at ``t + control_dt``).

Privileged terms (sim truth: base velocity, height, keypoint errors) are only for PPO experts and critics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.rotations import (
    projected_gravity,
    quat_apply_inv,
    quat_conj,
    quat_mul,
    quat_to_mat,
    yaw_quat,
)
from hgpt_core.state import ReferenceFrame, RobotState


@dataclass
class ObsInput:
    """Everything an observation term may read. Leading shape ``(...)`` is any batch shape.

    Attributes:
        joint_pos: Measured joint angles [rad], shape (..., 29).
        joint_vel: Measured joint speeds [rad/s], shape (..., 29).
        base_quat: Pelvis (IMU) orientation wxyz in the world, shape (..., 4).
        base_ang_vel_b: Pelvis angular velocity in the pelvis frame [rad/s], shape (..., 3).
        last_action: Previous raw policy output, shape (..., 29).
        ref_root_pos_w: Reference pelvis position [m], shape (..., 3).
        ref_root_quat: Reference pelvis orientation wxyz, shape (..., 4).
        ref_root_lin_vel_w: Reference pelvis linear velocity, world [m/s], shape (..., 3).
        ref_root_ang_vel_w: Reference pelvis angular velocity, world [rad/s], shape (..., 3).
        ref_joint_pos: Reference joint angles [rad], shape (..., 29).
        ref_joint_vel: Reference joint speeds [rad/s], shape (..., 29).
        default_joint_pos: The policy's default pose [rad], shape (29,).
        base_pos_w: Privileged: pelvis position [m], shape (..., 3).
        base_lin_vel_w: Privileged: pelvis linear velocity, world [m/s], shape (..., 3).
        keypoint_pos_w: Privileged: robot keypoint positions [m], shape (..., K, 3).
        ref_keypoint_pos_w: Privileged: reference keypoint positions [m], shape (..., K, 3).
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    base_quat: np.ndarray
    base_ang_vel_b: np.ndarray
    last_action: np.ndarray
    ref_root_pos_w: np.ndarray
    ref_root_quat: np.ndarray
    ref_root_lin_vel_w: np.ndarray
    ref_root_ang_vel_w: np.ndarray
    ref_joint_pos: np.ndarray
    ref_joint_vel: np.ndarray
    default_joint_pos: np.ndarray
    base_pos_w: np.ndarray | None = None
    base_lin_vel_w: np.ndarray | None = None
    keypoint_pos_w: np.ndarray | None = None
    ref_keypoint_pos_w: np.ndarray | None = None

    @classmethod
    def from_state(
        cls,
        state: RobotState,
        ref_next: ReferenceFrame,
        last_action: np.ndarray,
        default_joint_pos: np.ndarray,
    ) -> ObsInput:
        """The one way to make an ObsInput.

        Privileged fields are filled where ``state`` has root truth and bodies and ``ref_next`` has keypoints
        (a simulator), None otherwise (a real robot).

        Args:
            state: Robot state now, leading shape (...).
            ref_next: Reference one control step ahead (the frame the robot should reach next), (...).
            last_action: Previous raw policy output, (..., 29).
            default_joint_pos: The policy's default pose [rad], (29,).
        """
        return cls(
            joint_pos=state.joint_pos,
            joint_vel=state.joint_vel,
            base_quat=state.root_quat_w,
            base_ang_vel_b=state.root_ang_vel_b,
            last_action=last_action,
            ref_root_pos_w=ref_next.root_pos_w,
            ref_root_quat=ref_next.root_quat_w,
            ref_root_lin_vel_w=ref_next.root_lin_vel_w,
            ref_root_ang_vel_w=ref_next.root_ang_vel_w,
            ref_joint_pos=ref_next.joint_pos,
            ref_joint_vel=ref_next.joint_vel,
            default_joint_pos=np.asarray(default_joint_pos),
            base_pos_w=state.root_pos_w,
            base_lin_vel_w=state.root_lin_vel_w,
            keypoint_pos_w=state.body_pos_w,
            ref_keypoint_pos_w=ref_next.keypoint_pos_w,
        )


@dataclass(frozen=True)
class ObsTerm:
    """A named slice of the observation vector."""

    name: str
    size: int
    fn: Callable[[ObsInput], np.ndarray]
    privileged: bool = False


def _need(x: np.ndarray | None, name: str) -> np.ndarray:
    if x is None:
        raise ValueError(f"privileged observation needs ObsInput.{name} (sim truth)")
    return x


def _rel_rot6(o: ObsInput) -> np.ndarray:
    # Reference orientation in the robot pelvis frame, first two matrix columns (continuous, 6 numbers).
    rel = quat_mul(quat_conj(o.base_quat), o.ref_root_quat)
    return quat_to_mat(rel)[..., :, :2].reshape(*rel.shape[:-1], 6)


def _keypoint_err_b(o: ObsInput) -> np.ndarray:
    kp, ref = (
        _need(o.keypoint_pos_w, "keypoint_pos_w"),
        _need(o.ref_keypoint_pos_w, "ref_keypoint_pos_w"),
    )
    base = _need(o.base_pos_w, "base_pos_w")
    heading = yaw_quat(o.base_quat)[..., None, :]
    # Each keypoint relative to its own root, in the robot heading frame: drift-free pose error.
    err = (ref - o.ref_root_pos_w[..., None, :]) - (kp - base[..., None, :])
    return quat_apply_inv(np.broadcast_to(heading, err.shape[:-1] + (4,)), err).reshape(*err.shape[:-2], -1)


PROPRIO_TERMS: tuple[ObsTerm, ...] = (
    ObsTerm("base_ang_vel_b", 3, lambda o: o.base_ang_vel_b),
    ObsTerm("projected_gravity_b", 3, lambda o: projected_gravity(o.base_quat)),
    ObsTerm("joint_pos_rel", NUM_JOINTS, lambda o: o.joint_pos - o.default_joint_pos),
    ObsTerm("joint_vel", NUM_JOINTS, lambda o: o.joint_vel),
    ObsTerm("last_action", NUM_JOINTS, lambda o: o.last_action),
)
REFERENCE_TERMS: tuple[ObsTerm, ...] = (
    ObsTerm("ref_joint_pos_rel", NUM_JOINTS, lambda o: o.ref_joint_pos - o.default_joint_pos),
    ObsTerm("ref_joint_vel", NUM_JOINTS, lambda o: o.ref_joint_vel),
    ObsTerm("ref_root_height", 1, lambda o: o.ref_root_pos_w[..., 2:3]),
    ObsTerm("ref_projected_gravity_b", 3, lambda o: projected_gravity(o.ref_root_quat)),
    ObsTerm(
        "ref_root_lin_vel_b",
        3,
        lambda o: quat_apply_inv(o.ref_root_quat, o.ref_root_lin_vel_w),
    ),
    ObsTerm(
        "ref_root_ang_vel_b",
        3,
        lambda o: quat_apply_inv(o.ref_root_quat, o.ref_root_ang_vel_w),
    ),
)
PRIVILEGED_TERMS: tuple[ObsTerm, ...] = (
    ObsTerm(
        "base_lin_vel_b",
        3,
        lambda o: quat_apply_inv(o.base_quat, _need(o.base_lin_vel_w, "base_lin_vel_w")),
        True,
    ),
    ObsTerm("base_height", 1, lambda o: _need(o.base_pos_w, "base_pos_w")[..., 2:3], True),
    ObsTerm(
        "ref_root_pos_b",
        3,
        lambda o: quat_apply_inv(o.base_quat, o.ref_root_pos_w - _need(o.base_pos_w, "base_pos_w")),
        True,
    ),
    ObsTerm("ref_root_rot6_b", 6, _rel_rot6, True),
)

DEPLOY_OBS_TERMS: tuple[ObsTerm, ...] = PROPRIO_TERMS + REFERENCE_TERMS
"""The token a deployable policy reads (161 numbers)."""

TERMS_BY_NAME: dict[str, ObsTerm] = {t.name: t for t in DEPLOY_OBS_TERMS + PRIVILEGED_TERMS}


def keypoint_error_term(num_keypoints: int) -> ObsTerm:
    """Privileged per-keypoint position error in the heading frame, size ``3 * num_keypoints``."""
    return ObsTerm("keypoint_pos_err_b", 3 * num_keypoints, _keypoint_err_b, True)


def privileged_obs_terms(num_keypoints: int) -> tuple[ObsTerm, ...]:
    """Deployable token + privileged terms, for PPO experts and critics."""
    return DEPLOY_OBS_TERMS + PRIVILEGED_TERMS + (keypoint_error_term(num_keypoints),)


def obs_layout(terms: Sequence[ObsTerm]) -> list[tuple[str, int]]:
    """``[(name, size), ...]``: what a policy's metadata records as ``obs_terms``."""
    return [(t.name, t.size) for t in terms]


def obs_size(terms: Sequence[ObsTerm]) -> int:
    """Total length of the observation vector."""
    return sum(t.size for t in terms)


def terms_from_layout(layout: Sequence[Sequence]) -> tuple[ObsTerm, ...]:
    """Resolve a metadata layout back to terms; raises ValueError on unknown names or sizes."""
    out = []
    for name, size in layout:
        if name == "keypoint_pos_err_b":
            term = keypoint_error_term(int(size) // 3)
        elif name in TERMS_BY_NAME:
            term = TERMS_BY_NAME[name]
        else:
            raise ValueError(f"unknown observation term '{name}'; known: {sorted(TERMS_BY_NAME)}")
        if term.size != int(size):
            raise ValueError(f"observation term '{name}' has size {term.size} here, {size} in the layout")
        out.append(term)
    return tuple(out)


def build_obs(inp: ObsInput, terms: Sequence[ObsTerm] = DEPLOY_OBS_TERMS) -> np.ndarray:
    """Concatenate the terms into one float32 vector per batch element. Shape: (..., obs_size(terms))."""
    parts = []
    for t in terms:
        v = np.asarray(t.fn(inp))
        assert v.shape[-1] == t.size, (t.name, v.shape)
        parts.append(v)
    return np.concatenate(parts, axis=-1).astype(np.float32)
