"""Evaluation metrics of one control step (paper §5 / DESIGN §5): joint, velocity and keypoint errors.

MPKPE is reported three ways (DESIGN §5):

* ``mpkpe_local_mm``: keypoints relative to each root, each in its own root's heading frame: pose quality,
  blind to position and heading drift;
* ``mpkpe_ref_heading_mm``: keypoints relative to each root, both in the REFERENCE root's heading frame:
  pose plus heading (yaw) drift, blind to position drift;
* ``mpkpe_global_mm``: world positions (= in the reference heading frame about the reference root): pose,
  heading and position drift. A rotation does not change a norm, so the last two need no rotation.
"""

from __future__ import annotations

import numpy as np

from hgpt_core.rotations import quat_apply_inv, yaw_quat
from hgpt_core.state import ReferenceFrame
from hgpt_sim.backend import PhysicsState

METRICS = ("mpjpe", "mpjve", "root_vel_err", "mpkpe_local_mm", "mpkpe_ref_heading_mm", "mpkpe_global_mm")
UNITS = {
    "mpjpe": "rad",
    "mpjve": "rad/s",
    "root_vel_err": "m/s",
    "mpkpe_local_mm": "mm",
    "mpkpe_ref_heading_mm": "mm",
    "mpkpe_global_mm": "mm",
}
DEFINITIONS = {
    "mpjpe": "mean over the 29 joints of |q - q_ref|",
    "mpjve": "mean over the 29 joints of |dq - dq_ref|",
    "root_vel_err": "||v_pelvis - v_pelvis_ref||, world frame",
    "mpkpe_local_mm": "mean keypoint distance, each body relative to its root in its OWN heading frame "
    "(pose only)",
    "mpkpe_ref_heading_mm": "mean keypoint distance, both relative to their root in the REFERENCE heading "
    "frame (pose + heading drift)",
    "mpkpe_global_mm": "mean world keypoint distance (pose + heading + position drift)",
}
"""One line per metric: what it measures (units in :data:`UNITS`). Each is averaged over the 14 keypoint
bodies or 29 joints, then over a run's scored steps."""


def _local(pos_w: np.ndarray, root_pos_w: np.ndarray, root_quat: np.ndarray) -> np.ndarray:
    """Keypoints relative to the root, in the root's heading frame. (N, K, 3) -> (N, K, 3)."""
    heading = np.broadcast_to(yaw_quat(root_quat)[:, None, :], pos_w.shape[:-1] + (4,))
    return quat_apply_inv(heading, pos_w - root_pos_w[:, None, :])


def step_errors(state: PhysicsState, ref: ReferenceFrame) -> dict[str, np.ndarray]:
    """Errors of N robots against their reference at the same instant; each (N,).

    mpjpe: mean_j |q - q_ref| [rad]; mpjve: mean_j |dq - dq_ref| [rad/s]; root_vel_err: ||v - v_ref|| of the
    pelvis, world [m/s]; mpkpe_*: mean keypoint distance [mm] (module docstring: the three frames).
    """
    local = _local(state.body_pos_w, state.root_pos_w, state.root_quat_w)
    local_ref = _local(ref.keypoint_pos_w, ref.root_pos_w, ref.root_quat_w)
    rel = state.body_pos_w - state.root_pos_w[:, None, :]  # robot about its root, world axes
    rel_ref = ref.keypoint_pos_w - ref.root_pos_w[:, None, :]
    return {
        "mpjpe": np.abs(state.joint_pos - ref.joint_pos).mean(-1),
        "mpjve": np.abs(state.joint_vel - ref.joint_vel).mean(-1),
        "root_vel_err": np.linalg.norm(state.root_lin_vel_w - ref.root_lin_vel_w, axis=-1),
        "mpkpe_local_mm": 1000.0 * np.linalg.norm(local - local_ref, axis=-1).mean(-1),
        "mpkpe_ref_heading_mm": 1000.0 * np.linalg.norm(rel - rel_ref, axis=-1).mean(-1),
        "mpkpe_global_mm": 1000.0 * np.linalg.norm(state.body_pos_w - ref.keypoint_pos_w, axis=-1).mean(-1),
    }
