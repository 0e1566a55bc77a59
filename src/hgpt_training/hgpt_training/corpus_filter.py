"""What a flat-ground tracker cannot execute: the corpus filter, with one recorded reason per failed rule.

Rules on the source clip at the control rate (all copies share its verdict): object interaction (source tag or
name), too short, root height off by more than a plausible retargeting offset, pelvis not upright (lying,
rolling), pelvis near the floor (lying, sitting on the floor), feet penetrating or floating, centre of mass
outside the feet while quasi-static (sitting or leaning on something), joint-limit violations.
Rules per time-warped copy: too short, joint speed over the motor limits (spikes).

Before the foot checks a clip may be shifted vertically by a constant (``ground_shift_m``): video-derived
retargets (ASAP) float 5-15 cm, GMT clips sink 2-5 cm; the shift is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mujoco
import numpy as np

from hgpt_core.g1 import MOTOR_TYPE, VELOCITY_LIMIT
from hgpt_core.motion import MotionClip
from hgpt_core.sanity import FOOT_SITES, clip_sanity, kinematics

JOINT_SPEED_LIMIT = np.array([VELOCITY_LIMIT[t] for t in MOTOR_TYPE])  # (29,) [rad/s]


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds of the corpus filter (defaults measured on the shared G1 set, see docs/corpus.md)."""

    min_duration_s: float = 2.0
    """Shortest clip (and time-warped copy) kept [s]."""
    ground_band_m: tuple[float, float] = (-0.02, 0.04)
    """5th percentile of the lowest foot site height [m] accepted as is; outside, the clip is shifted."""
    ground_target_m: float = 0.01
    """Height [m] the 5th percentile of the lowest foot is shifted to."""
    max_ground_shift_m: float = 0.15
    """Larger vertical offsets [m] are not a retargeting artefact: reject."""
    min_upright_fraction: float = 0.9
    """Fraction of frames with the pelvis z axis up (> 0.3) required."""
    min_pelvis_height_m: float = 0.25
    max_low_pelvis_fraction: float = 0.05
    """Fraction of frames allowed with the pelvis below min_pelvis_height_m."""
    max_penetration_fraction: float = 0.05
    max_floating_fraction: float = 0.3
    """Frames with the lowest foot above 0.10 m (jumps are brief)."""
    quasi_static_speed: float = 0.2
    """Centre-of-mass horizontal speed [m/s] under which the body must be supported by the feet."""
    support_margin_m: float = 0.15
    """Distance [m] of the CoM ground projection from the segment between the feet counted as unsupported."""
    max_unsupported_fraction: float = 0.2
    reject_joint_limits: bool = True
    """Reject clips with a joint beyond its limit by more than hgpt_core.sanity's tolerance (0.05 rad)."""
    max_overspeed_fraction: float = 0.005
    """Fraction of frame steps allowed with a joint over its motor speed limit."""
    max_speed_ratio: float = 3.0
    """Any joint speed above this multiple of its limit is a glitch: reject."""


@dataclass(frozen=True)
class ClipAssessment:
    """Filter result of a source clip (at the control rate)."""

    reasons: tuple[str, ...]
    ground_shift_m: float
    stats: dict

    @property
    def accepted(self) -> bool:
        return not self.reasons


def foot_and_com(clip: MotionClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowest foot site z (T,), foot sites xy (T, 2, 2) and whole-body CoM (T, 3) [m], by FK."""
    kin = kinematics()
    m, d = kin.model, kin.data
    sites = [m.site(s).id for s in FOOT_SITES]
    mass = m.body_mass[1:]
    qpos = np.concatenate((clip.root_pos, clip.root_quat, clip.joint_pos), axis=1)
    feet = np.empty((len(qpos), 2, 3))
    com = np.empty((len(qpos), 3))
    for i in range(len(qpos)):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        feet[i] = d.site_xpos[sites]
        com[i] = mass @ d.xipos[1:] / mass.sum()
    return feet[:, :, 2].min(axis=1), feet[:, :, :2], com


def unsupported_fraction(feet_xy: np.ndarray, com: np.ndarray, fps: float, cfg: FilterConfig) -> float:
    """Fraction of quasi-static frames whose CoM projection is beyond the margin from the feet segment."""
    a, b, p = feet_xy[:, 0], feet_xy[:, 1], com[:, :2]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(p - (a + t[:, None] * ab), axis=1)
    speed = np.linalg.norm(np.gradient(com[:, :2], 1.0 / fps, axis=0), axis=1)
    static = speed < cfg.quasi_static_speed
    return float(np.mean(static & (dist > cfg.support_margin_m))) if len(dist) else 0.0


def ground_shift(lowest_foot_z: np.ndarray, cfg: FilterConfig) -> float:
    """Vertical shift [m] bringing the 5th percentile of the lowest foot into the ground band (0 inside)."""
    p5 = float(np.percentile(lowest_foot_z, 5))
    lo, hi = cfg.ground_band_m
    return 0.0 if lo <= p5 <= hi else cfg.ground_target_m - p5


def shift_clip(clip: MotionClip, shift_m: float) -> MotionClip:
    """The clip moved up by ``shift_m`` [m] (a copy)."""
    if shift_m == 0.0:
        return clip
    root_pos = clip.root_pos.copy()
    root_pos[:, 2] += shift_m
    return replace(clip, root_pos=root_pos, meta={**clip.meta, "ground_shift_m": shift_m})


def assess_clip(clip: MotionClip, cfg: FilterConfig) -> tuple[ClipAssessment, MotionClip]:
    """Physical rules on a clip at the control rate; returns the assessment and the ground-shifted clip."""
    reasons: list[str] = []
    if clip.duration < cfg.min_duration_s:
        reasons.append(f"too_short: {clip.duration:.2f} s < {cfg.min_duration_s} s")
    foot_z, feet_xy, com = foot_and_com(clip)
    shift = ground_shift(foot_z, cfg)
    if abs(shift) > cfg.max_ground_shift_m:
        reasons.append(
            f"height_offset: feet {-shift:+.3f} m off the floor (limit {cfg.max_ground_shift_m} m)"
        )
        shift = 0.0
    clip = shift_clip(clip, shift)
    s = clip_sanity(clip)
    low_pelvis = float(np.mean(clip.root_pos[:, 2] < cfg.min_pelvis_height_m))
    unsupported = unsupported_fraction(feet_xy, com, clip.fps, cfg)
    rules = (
        (
            s.upright_fraction < cfg.min_upright_fraction,
            f"not_upright: pelvis upright in {s.upright_fraction:.0%}",
        ),
        (
            low_pelvis > cfg.max_low_pelvis_fraction,
            f"pelvis_near_floor: {low_pelvis:.0%} of frames below {cfg.min_pelvis_height_m} m",
        ),
        (
            s.penetration_fraction > cfg.max_penetration_fraction,
            f"feet_penetrating: {s.penetration_fraction:.0%} of frames",
        ),
        (
            s.floating_fraction > cfg.max_floating_fraction,
            f"feet_floating: {s.floating_fraction:.0%} of frames",
        ),
        (
            unsupported > cfg.max_unsupported_fraction,
            f"unsupported_com: CoM off the feet in {unsupported:.0%} "
            "of frames while quasi-static (sitting or leaning?)",
        ),
        (
            cfg.reject_joint_limits and bool(s.joint_limit_violations),
            f"joint_limits: {', '.join(f'{k} +{v:.2f} rad' for k, v in s.joint_limit_violations.items())}",
        ),
    )
    reasons += [why for failed, why in rules if failed]
    stats = {
        "lowest_foot_z_median": round(s.lowest_foot_z_median, 4),
        "penetration_fraction": round(s.penetration_fraction, 4),
        "floating_fraction": round(s.floating_fraction, 4),
        "upright_fraction": round(s.upright_fraction, 4),
        "low_pelvis_fraction": round(low_pelvis, 4),
        "unsupported_fraction": round(unsupported, 4),
    }
    return ClipAssessment(tuple(reasons), round(shift, 6), stats), clip


def speed_reasons(joint_pos: np.ndarray, fps: float, cfg: FilterConfig) -> list[str]:
    """Joint speed rules on one (time-warped) copy: too many over-limit steps, or a glitch. Shape: (T, 29)."""
    if len(joint_pos) < 2:
        return []
    ratio = np.abs(np.diff(joint_pos, axis=0)) * fps / JOINT_SPEED_LIMIT  # (T-1, 29)
    over = float(np.mean(ratio.max(axis=1) > 1.0))
    peak = float(ratio.max())
    reasons = []
    if over > cfg.max_overspeed_fraction:
        reasons.append(f"velocity_spikes: {over:.2%} of steps over the motor speed limit")
    if peak > cfg.max_speed_ratio:
        reasons.append(f"velocity_glitch: a joint at {peak:.1f}x its speed limit")
    return reasons


def copy_reasons(clip: MotionClip, cfg: FilterConfig) -> list[str]:
    """Rules on one time-warped copy at the control rate."""
    reasons = []
    if clip.duration < cfg.min_duration_s:
        reasons.append(f"too_short: {clip.duration:.2f} s < {cfg.min_duration_s} s")
    return reasons + speed_reasons(clip.joint_pos, clip.fps, cfg)
