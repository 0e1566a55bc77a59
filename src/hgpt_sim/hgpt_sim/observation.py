"""Sim state + reference -> :class:`hgpt_core.obs.ObsInput`, so observations come from ``build_obs``.

The policy node fills the same ObsInput from ROS messages; this is the simulator's side of that contract.
"""

from __future__ import annotations

import numpy as np

from hgpt_core.obs import ObsInput
from hgpt_sim.backend import PhysicsState
from hgpt_sim.references import RefFrame


def obs_input(
    state: PhysicsState, ref_next: RefFrame, last_action: np.ndarray, default_joint_pos: np.ndarray
) -> ObsInput:
    """ObsInput for N envs, privileged fields included.

    Args:
        state: Robot state now.
        ref_next: Reference one control step ahead (the frame the robot should reach next).
        last_action: Previous raw policy output, (N, 29).
        default_joint_pos: The policy's default pose [rad], (29,).
    """
    return ObsInput(
        joint_pos=state.joint_pos,
        joint_vel=state.joint_vel,
        base_quat=state.root_quat,
        base_ang_vel_b=state.root_ang_vel_b,  # free-joint qvel[3:6] is in the pelvis frame, as the IMU gyro
        last_action=last_action,
        ref_root_pos_w=ref_next.root_pos_w,
        ref_root_quat=ref_next.root_quat,
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
