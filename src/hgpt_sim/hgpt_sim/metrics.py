"""Evaluation metrics of one control step (paper §5 / DESIGN §5): joint, velocity and keypoint errors.

MPKPE is reported two ways: ``mpkpe_local`` compares keypoints relative to each root in that root's own
heading frame (pose quality, blind to drift); ``mpkpe_global`` compares world positions, i.e. the robot's
keypoints expressed in the reference root's heading frame (includes drift; the norm does not depend on the
frame's rotation).
"""

from __future__ import annotations

import numpy as np

from hgpt_core.rotations import quat_apply_inv, yaw_quat
from hgpt_sim.backend import PhysicsState
from hgpt_sim.references import RefFrame

METRICS = ("mpjpe", "mpjve", "root_vel_err", "mpkpe_local_mm", "mpkpe_global_mm")
UNITS = {
    "mpjpe": "rad",
    "mpjve": "rad/s",
    "root_vel_err": "m/s",
    "mpkpe_local_mm": "mm",
    "mpkpe_global_mm": "mm",
}


def _local(pos_w: np.ndarray, root_pos_w: np.ndarray, root_quat: np.ndarray) -> np.ndarray:
    """Keypoints relative to the root, in the root's heading frame. (N, K, 3) -> (N, K, 3)."""
    heading = np.broadcast_to(yaw_quat(root_quat)[:, None, :], pos_w.shape[:-1] + (4,))
    return quat_apply_inv(heading, pos_w - root_pos_w[:, None, :])


def step_errors(state: PhysicsState, ref: RefFrame) -> dict[str, np.ndarray]:
    """Errors of N robots against their reference at the same instant; each (N,).

    mpjpe: mean_j |q - q_ref| [rad]; mpjve: mean_j |dq - dq_ref| [rad/s]; root_vel_err: ||v - v_ref|| of the
    pelvis, world [m/s]; mpkpe_*: mean keypoint distance [mm].
    """
    local = _local(state.body_pos_w, state.root_pos_w, state.root_quat)
    local_ref = _local(ref.keypoint_pos_w, ref.root_pos_w, ref.root_quat)
    return {
        "mpjpe": np.abs(state.joint_pos - ref.joint_pos).mean(-1),
        "mpjve": np.abs(state.joint_vel - ref.joint_vel).mean(-1),
        "root_vel_err": np.linalg.norm(state.root_lin_vel_w - ref.root_lin_vel_w, axis=-1),
        "mpkpe_local_mm": 1000.0 * np.linalg.norm(local - local_ref, axis=-1).mean(-1),
        "mpkpe_global_mm": 1000.0 * np.linalg.norm(state.body_pos_w - ref.keypoint_pos_w, axis=-1).mean(-1),
    }
