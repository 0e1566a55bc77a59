"""Unitree G1 (29 DoF) facts: joint order, limits, actuators, gains, default poses, keypoints.

Joint order is the MJCF ``qpos[7:]`` order, which is also the Unitree motor index order (0..28).
Gains are derived from motor armature (mjlab ``g1_constants.py``): ``kp = armature * w**2`` and
``kd = 2 * zeta * armature * w`` with natural frequency 10 Hz and damping ratio 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

G1_JOINT_NAMES: tuple[str, ...] = (
    "left_hip_pitch_joint",
    "left_hip_roll_joint",
    "left_hip_yaw_joint",
    "left_knee_joint",
    "left_ankle_pitch_joint",
    "left_ankle_roll_joint",
    "right_hip_pitch_joint",
    "right_hip_roll_joint",
    "right_hip_yaw_joint",
    "right_knee_joint",
    "right_ankle_pitch_joint",
    "right_ankle_roll_joint",
    "waist_yaw_joint",
    "waist_roll_joint",
    "waist_pitch_joint",
    "left_shoulder_pitch_joint",
    "left_shoulder_roll_joint",
    "left_shoulder_yaw_joint",
    "left_elbow_joint",
    "left_wrist_roll_joint",
    "left_wrist_pitch_joint",
    "left_wrist_yaw_joint",
    "right_shoulder_pitch_joint",
    "right_shoulder_roll_joint",
    "right_shoulder_yaw_joint",
    "right_elbow_joint",
    "right_wrist_roll_joint",
    "right_wrist_pitch_joint",
    "right_wrist_yaw_joint",
)
NUM_JOINTS = len(G1_JOINT_NAMES)
assert NUM_JOINTS == 29

# 23-DoF layouts (GMT, PHC, ASAP, PBHC) are the 29-DoF order without the six wrist joints.
WRIST_JOINTS: tuple[str, ...] = tuple(n for n in G1_JOINT_NAMES if "wrist" in n)
G1_23DOF_JOINT_NAMES: tuple[str, ...] = tuple(n for n in G1_JOINT_NAMES if "wrist" not in n)

# Rotor armature [kg m^2] per motor type (Unitree rotor inertia x gear ratio^2, as in mjlab).
ARMATURE: dict[str, float] = {
    "5020": 0.003609725,
    "7520_14": 0.010177520,
    "7520_22": 0.025101925,
    "4010": 0.00425,
    "2x5020": 2 * 0.003609725,
}
# Peak torque [N m] per motor type.
EFFORT_LIMIT: dict[str, float] = {
    "5020": 25.0,
    "7520_14": 88.0,
    "7520_22": 139.0,
    "4010": 5.0,
    "2x5020": 50.0,
}
# Velocity limit [rad/s] per motor type (Unitree spec sheet values used by mjlab).
VELOCITY_LIMIT: dict[str, float] = {
    "5020": 37.0,
    "7520_14": 32.0,
    "7520_22": 20.0,
    "4010": 22.0,
    "2x5020": 37.0,
}

NATURAL_FREQ_HZ = 10.0
DAMPING_RATIO = 2.0


def _motor_type(joint: str) -> str:
    if any(k in joint for k in ("hip_pitch", "hip_yaw", "waist_yaw")):
        return "7520_14"
    if any(k in joint for k in ("hip_roll", "knee")):
        return "7520_22"
    if any(k in joint for k in ("wrist_pitch", "wrist_yaw")):
        return "4010"
    if any(k in joint for k in ("ankle", "waist_roll", "waist_pitch")):
        return "2x5020"
    return "5020"  # shoulders, elbow, wrist roll


MOTOR_TYPE: tuple[str, ...] = tuple(_motor_type(n) for n in G1_JOINT_NAMES)

# Joint position limits [rad], Unitree G1 29-DoF rev 1.0 (the MJCF must agree; tests check it).
_LIMITS = {
    "hip_pitch": (-2.5307, 2.8798),
    "left_hip_roll": (-0.5236, 2.9671),
    "right_hip_roll": (-2.9671, 0.5236),
    "hip_yaw": (-2.7576, 2.7576),
    "knee": (-0.087267, 2.8798),
    "ankle_pitch": (-0.87267, 0.5236),
    "ankle_roll": (-0.2618, 0.2618),
    "waist_yaw": (-2.618, 2.618),
    "waist_roll": (-0.52, 0.52),
    "waist_pitch": (-0.52, 0.52),
    "shoulder_pitch": (-3.0892, 2.6704),
    "left_shoulder_roll": (-1.5882, 2.2515),
    "right_shoulder_roll": (-2.2515, 1.5882),
    "shoulder_yaw": (-2.618, 2.618),
    "elbow": (-1.0472, 2.0944),
    "wrist_roll": (-1.972222054, 1.972222054),
    "wrist_pitch": (-1.614429558, 1.614429558),
    "wrist_yaw": (-1.614429558, 1.614429558),
}


def _limit(joint: str) -> tuple[float, float]:
    short = joint.removesuffix("_joint")
    for key in sorted(_LIMITS, key=len, reverse=True):
        if short.endswith(key):
            return _LIMITS[key]
    raise KeyError(joint)


JOINT_LIMITS = np.array([_limit(n) for n in G1_JOINT_NAMES])  # (29, 2) [rad]

# Keypoint bodies for rewards, metrics and retargeting (MJCF body names). Lower body weighs 1.5,
# upper body 0.75 in the keypoint reward (supplementary Table 3).
LOWER_BODY_KEYPOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip_roll_link",
    "left_knee_link",
    "left_ankle_roll_link",
    "right_hip_roll_link",
    "right_knee_link",
    "right_ankle_roll_link",
)
UPPER_BODY_KEYPOINTS: tuple[str, ...] = (
    "torso_link",
    "left_shoulder_roll_link",
    "left_elbow_link",
    "left_wrist_yaw_link",
    "right_shoulder_roll_link",
    "right_elbow_link",
    "right_wrist_yaw_link",
)
KEYPOINT_BODIES: tuple[str, ...] = LOWER_BODY_KEYPOINTS + UPPER_BODY_KEYPOINTS
END_EFFECTOR_BODIES: tuple[str, ...] = (
    "left_ankle_roll_link",
    "right_ankle_roll_link",
    "left_wrist_yaw_link",
    "right_wrist_yaw_link",
)
ANCHOR_BODY = "torso_link"
ROOT_BODY = "pelvis"


def _pose(**kw: float) -> np.ndarray:
    q = np.zeros(NUM_JOINTS)
    for i, name in enumerate(G1_JOINT_NAMES):
        for key, val in kw.items():
            if name.removesuffix("_joint").endswith(key):
                q[i] = val
    return q


# Knees-bent default pose (the MJCF keyframe `knees_bent`); root height 0.76 m.
KNEES_BENT_POSE = _pose(
    hip_pitch=-0.312,
    knee=0.669,
    ankle_pitch=-0.363,
    shoulder_pitch=0.2,
    left_shoulder_roll=0.2,
    right_shoulder_roll=-0.2,
    elbow=0.6,
)
KNEES_BENT_ROOT_Z = 0.76


@dataclass(frozen=True)
class G1Spec:
    """Robot configuration that a deployed policy must match.

    Attributes:
        joint_names: Joint order, shape (29,).
        default_joint_pos: Default pose [rad], shape (29,).
        kp: Position gains [N m/rad], shape (29,).
        kd: Damping gains [N m s/rad], shape (29,).
        effort_limit: Torque limits [N m], shape (29,).
        velocity_limit: Joint speed limits [rad/s], shape (29,).
        joint_limits: Position limits [rad], shape (29, 2).
    """

    joint_names: tuple[str, ...] = G1_JOINT_NAMES
    default_joint_pos: np.ndarray = field(default_factory=lambda: KNEES_BENT_POSE.copy())
    kp: np.ndarray = field(default_factory=lambda: armature_gains()[0])
    kd: np.ndarray = field(default_factory=lambda: armature_gains()[1])
    effort_limit: np.ndarray = field(default_factory=lambda: np.array([EFFORT_LIMIT[t] for t in MOTOR_TYPE]))
    velocity_limit: np.ndarray = field(
        default_factory=lambda: np.array([VELOCITY_LIMIT[t] for t in MOTOR_TYPE])
    )
    joint_limits: np.ndarray = field(default_factory=lambda: JOINT_LIMITS.copy())


def armature_gains(
    natural_freq_hz: float = NATURAL_FREQ_HZ, damping_ratio: float = DAMPING_RATIO
) -> tuple[np.ndarray, np.ndarray]:
    """Return (kp, kd) per joint from armature; shapes (29,), (29,)."""
    w = 2.0 * math.pi * natural_freq_hz
    arm = np.array([ARMATURE[t] for t in MOTOR_TYPE])
    return arm * w**2, 2.0 * damping_ratio * arm * w


def assets_dir() -> Path:
    """Folder holding the shipped G1 MJCF, meshes and licences."""
    return Path(str(resources.files("hgpt_core") / "assets" / "g1"))


def robot_xml_path() -> Path:
    """The unmodified mjlab G1 MJCF (no floor, no actuators)."""
    return assets_dir() / "g1.xml"


def scene_xml_path() -> Path:
    """G1 + floor + 29 position actuators with armature-derived gains, dt 0.005 s."""
    return assets_dir() / "scene_g1_actuated.xml"


def index_map(from_names: tuple[str, ...] | list[str], to_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Indices ``idx`` such that ``x_to = x_from[..., idx]`` reorders arrays by joint name.

    Raises:
        ValueError: if a name in ``to_names`` is missing from ``from_names``.
    """
    pos = {n: i for i, n in enumerate(from_names)}
    missing = [n for n in to_names if n not in pos]
    if missing:
        raise ValueError(f"joints missing from source order: {missing}; available: {list(from_names)}")
    return np.array([pos[n] for n in to_names], dtype=np.int64)
