"""The peer TWIST2 tracker's layout and gains as hgpt metadata (no ONNX Runtime, no torch).

Layout (../shared/peers/twist2/LAYOUT.md): ``obs(1432) = [cur(127) | hist(10 x 127) | mimic(35)]``,
``cur = [mimic(35), proprio(92)]``; PD target ``= clip(a, -10, 10) * 0.5 + default``. The policy itself
(observation building, inference) is :mod:`hgpt_policy.twist2`.
"""

from __future__ import annotations

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.policy_meta import PolicyMetadata

ONNX_NAME = "twist2_1017_20k.onnx"
"""File name of the released TWIST2 graph."""
MIMIC_DIM, PROPRIO_DIM, HISTORY = 35, 92, 10
CUR_DIM = MIMIC_DIM + PROPRIO_DIM
OBS_DIM = CUR_DIM * (HISTORY + 1) + MIMIC_DIM
assert OBS_DIM == 1432
ACTION_SCALE = 0.5
"""PD target = default + ACTION_SCALE * clipped action [rad]."""

_LEG = [-0.2, 0.0, 0.0, 0.4, -0.2, 0.0]
TWIST2_DEFAULT_POSE = np.array(
    _LEG + _LEG + [0.0] * 3 + [0.0, 0.4, 0.0, 1.2, 0.0, 0.0, 0.0] + [0.0, -0.4, 0.0, 1.2, 0.0, 0.0, 0.0]
)
"""TWIST2's default joint positions [rad], G1_JOINT_NAMES order, shape (29,)."""
_LEG_KP, _LEG_KD = [100, 100, 100, 150, 40, 40], [2, 2, 2, 4, 2, 2]
_ARM_KP, _ARM_KD = [40, 40, 40, 40, 4, 4, 4], [5, 5, 5, 5, 0.2, 0.2, 0.2]
TWIST2_KP = np.array(_LEG_KP * 2 + [150] * 3 + _ARM_KP * 2, dtype=np.float64)
"""TWIST2's joint stiffness [N m/rad], shape (29,)."""
TWIST2_KD = np.array(_LEG_KD * 2 + [4] * 3 + _ARM_KD * 2, dtype=np.float64)
"""TWIST2's joint damping [N m s/rad], shape (29,)."""


def twist2_metadata() -> PolicyMetadata:
    """TWIST2's gains, default pose and action scale as hgpt metadata (its own 1432-wide observation)."""
    return PolicyMetadata(
        "twist2",
        default_joint_pos=TWIST2_DEFAULT_POSE.tolist(),
        kp=TWIST2_KP.tolist(),
        kd=TWIST2_KD.tolist(),
        action_scale=[ACTION_SCALE] * NUM_JOINTS,
        obs_terms=[["twist2_obs", OBS_DIM]],
        context_len=HISTORY + 1,
        inference="stacked_history",
        arch={"kind": "twist2_mlp", "source": "amazon-far/TWIST2 twist2_1017_20k.onnx (MIT)"},
    )
