"""Keypoint tracking reward (Humanoid-GPT Eq. 1, supplementary Table 3) and the fall rules.

Two fall rules share one detector (:class:`FallDetector`): ``FallConfig()`` is the peers' TRAINING
termination (anchor height off by 0.25 m either way, tilt, any hand/foot height off by 0.25 m);
``FallConfig.evaluation()`` is DESIGN §5's physical fall that evaluation's SR counts (tilt, anchor more than
0.25 m BELOW its reference, NaN). A hand/foot off its height is a tracking failure there, not a fall.

``R = R_pos + R_rot + R_vel + R_penal`` with ``R_x = sum_k w_k exp(-alpha_x e_k)`` over the 14 keypoint
bodies (lower body w 1.5, upper body 0.75). Error units, chosen here because the paper gives only the
alphas (see docs/sim.md): ``e_pos`` = L1 norm of the world position error [m] (the paper writes
``||e_pos||_1``), ``e_rot`` = SO(3) log-map angle [rad], ``e_vel`` = L1 norm of the world linear velocity
error [m/s]. In these SI units a reward half-drops at 0.69 m (pos), 0.35 rad (rot) and 23 m/s (vel): pos
and vel act as near-linear L1 penalties, rot is the shaped term. ``*_unit`` rescales an error before
alpha (e.g. ``pos_unit=0.01`` measures it in cm) without touching the alphas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgpt_core.g1 import (
    ANCHOR_BODY,
    END_EFFECTOR_BODIES,
    JOINT_LIMITS,
    LOWER_BODY_KEYPOINTS,
    UPPER_BODY_KEYPOINTS,
)
from hgpt_core.rotations import projected_gravity, quat_conj, quat_mul
from hgpt_core.state import ReferenceFrame
from hgpt_sim.backend import PhysicsState


@dataclass(frozen=True)
class RewardConfig:
    """Keypoint reward weights (Table 3) and penalty weights (ours; the paper names the terms only)."""

    lower_body_weight: float = 1.5
    """w_k of pelvis, hips, knees, ankles."""
    upper_body_weight: float = 0.75
    """w_k of torso, shoulders, elbows, wrists."""
    alpha_pos: float = 1.0
    alpha_rot: float = 2.0
    alpha_vel: float = 0.03
    pos_unit: float = 1.0
    """Position error is divided by this [m] before alpha (1.0 = metres, the literal reading)."""
    rot_unit: float = 1.0
    """Rotation error is divided by this [rad]."""
    vel_unit: float = 1.0
    """Velocity error is divided by this [m/s]."""
    self_collision_weight: float = 1.0
    """Penalty per control step, times the fraction of its physics steps with robot-robot contact."""
    smoothness_weight: float = 1.0
    """Penalty on sum_j (q*_t - q*_{t-1})^2 [rad^2] of the PD targets (mjlab action_rate at scale 0.25)."""
    joint_limit_weight: float = 10.0
    """Penalty on the summed excess [rad] over the soft joint limits (mjlab joint_pos_limits)."""
    soft_limit_factor: float = 0.9
    """Soft limits are this fraction of each joint's range, about its middle."""


@dataclass(frozen=True)
class FallConfig:
    """A fall rule. Defaults: the peers' training termination (mjlab tracking / BeyondMimic thresholds).

    :meth:`evaluation` gives DESIGN §5's fall (what SR counts). Neither rule ever counts yaw.
    """

    anchor_height: float = 0.25
    """|z_anchor - z_anchor_ref| above which the robot has fallen [m] (only below, see anchor_below_only)."""
    tilt: float = 0.8
    """|g_z - g_z_ref| of the anchor's projected gravity (roll/pitch only) above which it has fallen."""
    ee_height: float | None = 0.25
    """|z_ee - z_ee_ref| of any hand/foot above which it has fallen [m] (None: never)."""
    joint_limit: float | None = None
    """Terminate when any joint exceeds its hard limit by more than this [rad] (None: never)."""
    anchor_below_only: bool = False
    """Count the anchor height only when it is BELOW its reference (z_ref - z > anchor_height)."""

    @classmethod
    def evaluation(cls) -> FallConfig:
        """DESIGN §5 fall: tilt error > 0.8, anchor > 0.25 m below its reference, or NaN (no hand/foot)."""
        return cls(anchor_height=0.25, tilt=0.8, ee_height=None, anchor_below_only=True)


def keypoint_weights(names: tuple[str, ...], cfg: RewardConfig) -> np.ndarray:
    """w_k per keypoint body. Shape: (K,)."""
    w = []
    for n in names:
        if n in LOWER_BODY_KEYPOINTS:
            w.append(cfg.lower_body_weight)
        elif n in UPPER_BODY_KEYPOINTS:
            w.append(cfg.upper_body_weight)
        else:
            raise ValueError(f"keypoint '{n}' is neither lower nor upper body; known: {LOWER_BODY_KEYPOINTS}")
    return np.array(w)


def rotation_angle(q: np.ndarray, q_ref: np.ndarray) -> np.ndarray:
    """Angle of the SO(3) log map of ``q * q_ref^-1`` [rad], in [0, pi]. Shapes: (..., 4) -> (...)."""
    d = quat_mul(q, quat_conj(q_ref))
    return 2.0 * np.arctan2(np.linalg.norm(d[..., 1:], axis=-1), np.abs(d[..., 0]))


def soft_joint_limits(factor: float) -> np.ndarray:
    """Soft limits [rad], (29, 2)."""
    mid = JOINT_LIMITS.mean(axis=1, keepdims=True)
    return mid + factor * (JOINT_LIMITS - mid)


def tracking_reward(
    state: PhysicsState,
    ref: ReferenceFrame,
    targets: np.ndarray,
    prev_targets: np.ndarray,
    weights: np.ndarray,
    cfg: RewardConfig,
    nsub: int,
) -> dict[str, np.ndarray]:
    """Reward terms, each (N,): pos, rot, vel (>= 0), self_collision, smoothness, joint_limit (<= 0), total.

    Args:
        targets, prev_targets: PD targets of this and the previous control step [rad], (N, 29).
        weights: w_k, (K,).
        nsub: Physics steps per control step (normalises the self-contact count).
    """
    e_pos = np.abs(state.body_pos_w - ref.keypoint_pos_w).sum(-1) / cfg.pos_unit  # (N, K)
    e_rot = rotation_angle(state.body_quat_w, ref.keypoint_quat_w) / cfg.rot_unit
    e_vel = np.abs(state.body_lin_vel_w - ref.keypoint_lin_vel_w).sum(-1) / cfg.vel_unit
    soft = soft_joint_limits(cfg.soft_limit_factor)
    q = state.joint_pos
    excess = np.maximum(soft[:, 0] - q, 0.0) + np.maximum(q - soft[:, 1], 0.0)
    terms = {
        "pos": np.exp(-cfg.alpha_pos * e_pos) @ weights,
        "rot": np.exp(-cfg.alpha_rot * e_rot) @ weights,
        "vel": np.exp(-cfg.alpha_vel * e_vel) @ weights,
        "self_collision": -cfg.self_collision_weight * state.self_contact / nsub,
        "smoothness": -cfg.smoothness_weight * np.square(targets - prev_targets).sum(-1),
        "joint_limit": -cfg.joint_limit_weight * excess.sum(-1),
    }
    stacked = np.stack(list(terms.values()))  # (6, N)
    stacked = np.where(np.isfinite(stacked), stacked, 0.0)  # a NaN state is terminated, not rewarded
    out = dict(zip(terms, stacked, strict=True))
    out["total"] = stacked.sum(0)
    return out


def max_reward(weights: np.ndarray) -> float:
    """Reward of perfect tracking with no penalties: 3 * sum_k w_k."""
    return float(3.0 * weights.sum())


def anchor_fall(
    z: np.ndarray, quat: np.ndarray, z_ref: np.ndarray, quat_ref: np.ndarray, cfg: FallConfig
) -> dict[str, np.ndarray]:
    """The anchor's part of a fall rule: ``anchor_height`` and ``tilt``, each (N,) bool.

    Args:
        z, z_ref: Anchor (torso) height of the robot and of the reference [m], (N,).
        quat, quat_ref: Their world orientations (wxyz), (N, 4). Only roll/pitch count (projected gravity z).
    """
    g = projected_gravity(np.asarray(quat))[..., 2]
    g_ref = projected_gravity(np.asarray(quat_ref))[..., 2]
    dz = z_ref - z if cfg.anchor_below_only else np.abs(z - z_ref)
    return {"anchor_height": dz > cfg.anchor_height, "tilt": np.abs(g - g_ref) > cfg.tilt}


class FallDetector:
    """Evaluates :class:`FallConfig` on a :class:`PhysicsState` whose bodies are ``body_names``."""

    def __init__(self, body_names: tuple[str, ...], cfg: FallConfig) -> None:
        missing = [b for b in (ANCHOR_BODY, *END_EFFECTOR_BODIES) if b not in body_names]
        if missing:
            raise ValueError(f"fall rule needs bodies {missing}; tracked: {body_names}")
        self.cfg = cfg
        self.anchor = body_names.index(ANCHOR_BODY)
        self.ee = np.array([body_names.index(b) for b in END_EFFECTOR_BODIES])

    def ee_height_error(self, state: PhysicsState, ref: ReferenceFrame) -> np.ndarray:
        """Largest |z_ee - z_ee_ref| over the hands and feet [m]. Shape: (N,)."""
        e = self.ee
        return np.abs(state.body_pos_w[:, e, 2] - ref.keypoint_pos_w[:, e, 2]).max(-1)

    def __call__(self, state: PhysicsState, ref: ReferenceFrame) -> dict[str, np.ndarray]:
        """Boolean (N,) per reason: anchor_height, tilt, ee_height, nan, joint_limit; and ``any``."""
        c, a = self.cfg, self.anchor
        z = state.body_pos_w[..., 2]
        finite = np.isfinite(state.qpos()).all(-1) & np.isfinite(state.qvel()).all(-1)
        out = {
            **anchor_fall(
                state.body_pos_w[:, a, 2],
                state.body_quat_w[:, a],
                ref.keypoint_pos_w[:, a, 2],
                ref.keypoint_quat_w[:, a],
                c,
            ),
            "ee_height": self.ee_height_error(state, ref) > c.ee_height
            if c.ee_height is not None
            else np.zeros(len(z), dtype=bool),
            "nan": ~finite,
        }
        if c.joint_limit is not None:
            q = state.joint_pos
            over = np.maximum(JOINT_LIMITS[:, 0] - q, q - JOINT_LIMITS[:, 1])
            out["joint_limit"] = (over > c.joint_limit).any(-1)
        else:
            out["joint_limit"] = np.zeros(len(z), dtype=bool)
        # NaN comparisons are False: a NaN state only trips "nan", and it must trip "any".
        out["any"] = np.logical_or.reduce(list(out.values()))
        return out
