"""Physical sanity of a G1 clip by forward kinematics: feet vs floor, upright root, joint limits."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from hgpt_core.errors import MotionFormatError
from hgpt_core.g1 import G1_JOINT_NAMES, JOINT_LIMITS
from hgpt_core.kinematics import G1Kinematics
from hgpt_core.motion import MotionClip
from hgpt_core.rotations import quat_apply

FOOT_SITES = ("left_foot", "right_foot")
# The foot sites sit 0.037 m above the sole capsules' lowest point minus their radius; a stance foot
# reads about 0.0-0.03 m. These bounds flag a clip, they do not fix it.
PENETRATION_Z = -0.03
FLOAT_Z = 0.10
JOINT_LIMIT_TOL = 0.05  # [rad] tolerance before a limit excess counts as a violation


@lru_cache(maxsize=1)
def kinematics() -> G1Kinematics:
    """Shared FK instance (the tree is read once per process)."""
    return G1Kinematics()


@dataclass(frozen=True)
class ClipSanity:
    """Summary of a clip's physical plausibility (heights in m, angles in rad)."""

    frames: int
    duration_s: float
    lowest_foot_z_median: float
    penetration_fraction: float
    floating_fraction: float
    upright_fraction: float
    joint_limit_violations: dict[str, float]  # joint -> largest excess beyond the tolerance [rad]
    max_joint_speed: float

    @property
    def feet_on_floor(self) -> bool:
        """True when the median lowest foot height is neither below the floor nor floating."""
        return PENETRATION_Z <= self.lowest_foot_z_median <= FLOAT_Z / 2

    def as_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


def _lowest_foot_z(root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray) -> np.ndarray:
    fk = kinematics().forward(root_pos, root_quat, joint_pos)
    return np.min(np.stack([fk.site(s)[:, 2] for s in FOOT_SITES], axis=1), axis=1)


def _upright_fraction(root_quat: np.ndarray) -> float:
    up = quat_apply(root_quat, np.array([0.0, 0.0, 1.0]))
    return float(np.mean(up[:, 2] > 0.3))


def clip_sanity(clip: MotionClip) -> ClipSanity:
    """Compute :class:`ClipSanity` for a validated clip."""
    foot_z = _lowest_foot_z(clip.root_pos, clip.root_quat, clip.joint_pos)
    lo, hi = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
    excess = np.maximum(lo - clip.joint_pos, clip.joint_pos - hi).max(axis=0)
    violations = {n: float(e) for n, e in zip(G1_JOINT_NAMES, excess, strict=True) if e > JOINT_LIMIT_TOL}
    speed = np.abs(np.diff(clip.joint_pos, axis=0)).max() * clip.fps if clip.num_frames > 1 else 0.0
    return ClipSanity(
        frames=clip.num_frames,
        duration_s=clip.duration,
        lowest_foot_z_median=float(np.median(foot_z)),
        penetration_fraction=float(np.mean(foot_z < PENETRATION_Z)),
        floating_fraction=float(np.mean(foot_z > FLOAT_Z)),
        upright_fraction=_upright_fraction(clip.root_quat),
        joint_limit_violations=violations,
        max_joint_speed=float(speed),
    )


def _plausible(root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray) -> bool:
    z = np.median(_lowest_foot_z(root_pos, root_quat, joint_pos))
    return bool(-0.15 <= z <= 0.3 and _upright_fraction(root_quat) > 0.3)


def check_quaternion_convention(clip: MotionClip, origin: str | os.PathLike) -> None:
    """Raise if the root quaternion looks stored in the other (wxyz vs xyzw) convention.

    The clip is plausible when its lowest foot sits near the floor and the pelvis is mostly upright.
    If it is not, but reading the file's quaternion the other way round is, the file is mislabelled.
    Subsampled to at most ~200 frames: the check costs milliseconds.
    """
    step = max(1, clip.num_frames // 200)
    pos, quat, q = clip.root_pos[::step], clip.root_quat[::step], clip.joint_pos[::step]
    if _plausible(pos, quat, q):
        return
    swapped = np.concatenate((quat[:, 1:], quat[:, :1]), axis=1)  # the file's 4 numbers read as wxyz
    if _plausible(pos, swapped, q):
        raise MotionFormatError(
            f"{origin}: root quaternion appears to be stored as wxyz, but this format stores xyzw "
            "(feet are far from the floor or the pelvis is upside down as read)"
        )
    raise MotionFormatError(
        f"{origin}: implausible motion: feet not near the floor / pelvis not upright in either quaternion "
        "convention (wrong units, axes or file?)"
    )
