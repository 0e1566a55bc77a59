"""The two state types every package shares.

:class:`RobotState` (what the robot is doing) and :class:`ReferenceFrame` (what it should be doing).

Both are batched: every array may carry leading dims ``(...)`` (one sample ``()``, N envs ``(N,)``, a clip
``(T,)``). Units are SI (m, rad, m/s, rad/s), quaternions wxyz. A Cartesian field's suffix names its frame:
``_w`` world, ``_b`` the robot's pelvis (body) frame; joint fields (``joint_*``) are per joint in
:data:`hgpt_core.g1.G1_JOINT_NAMES` order and have no frame. MuJoCo layout: ``qpos = [root_pos_w (3),
root_quat_w (4), joint_pos (29)]``, ``qvel = [root_lin_vel_w (3), root_ang_vel_b (3), joint_vel (29)]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.rotations import quat_apply_inv

ROOT_QPOS = 7
"""Free-joint entries of ``qpos`` (position 3 + quaternion 4) before the joints."""
ROOT_QVEL = 6
"""Free-joint entries of ``qvel`` (linear 3 + angular 3) before the joints."""


def _index(obj: Any, idx: Any, cls: type) -> dict[str, Any]:
    """``cls``'s fields of ``obj`` indexed by ``idx`` over the leading dims (None stays None)."""
    return {f.name: (None if (v := getattr(obj, f.name)) is None else v[idx]) for f in fields(cls)}


@dataclass(slots=True)
class RobotState:
    """Measured (or simulated) robot state. Leading shape ``(...)``.

    The IMU part (joints, ``root_quat_w``, ``root_ang_vel_b``) is what a real robot reports; the root truth
    and body fields come from a simulator (or a motion-capture system) and are None where nobody knows them.

    Attributes:
        joint_pos: Joint angles [rad], (..., 29).
        joint_vel: Joint speeds [rad/s], (..., 29).
        root_quat_w: Pelvis (IMU) orientation, wxyz, (..., 4).
        root_ang_vel_b: Pelvis angular velocity in the pelvis frame (the IMU gyro) [rad/s], (..., 3).
        root_pos_w: Pelvis position [m], (..., 3), or None.
        root_lin_vel_w: Pelvis linear velocity [m/s], (..., 3), or None.
        body_pos_w: Tracked body origins [m], (..., K, 3), or None.
        body_quat_w: Tracked body orientations, wxyz, (..., K, 4), or None.
        body_lin_vel_w: Tracked body origin velocities [m/s], (..., K, 3), or None.
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    root_quat_w: np.ndarray
    root_ang_vel_b: np.ndarray
    root_pos_w: np.ndarray | None = None
    root_lin_vel_w: np.ndarray | None = None
    body_pos_w: np.ndarray | None = None
    body_quat_w: np.ndarray | None = None
    body_lin_vel_w: np.ndarray | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading dims ``(...)``."""
        return tuple(np.shape(self.joint_pos)[:-1])

    def qpos(self) -> np.ndarray:
        """MuJoCo qpos, (..., 36); needs ``root_pos_w``."""
        if self.root_pos_w is None:
            raise ValueError("RobotState.qpos() needs root_pos_w (root truth)")
        return np.concatenate((self.root_pos_w, self.root_quat_w, self.joint_pos), axis=-1)

    def qvel(self) -> np.ndarray:
        """MuJoCo qvel (root angular velocity in the pelvis frame), (..., 35); needs ``root_lin_vel_w``."""
        if self.root_lin_vel_w is None:
            raise ValueError("RobotState.qvel() needs root_lin_vel_w (root truth)")
        return np.concatenate((self.root_lin_vel_w, self.root_ang_vel_b, self.joint_vel), axis=-1)

    @classmethod
    def from_qpos_qvel(cls, qpos: np.ndarray, qvel: np.ndarray, **other: Any) -> Self:
        """Split MuJoCo qpos (..., 7 + 29) / qvel (..., 6 + 29) into fields (copies).

        ``other``: the remaining fields (``body_pos_w``, ..., a subclass's own).
        """
        qpos, qvel = np.asarray(qpos), np.asarray(qvel)
        if qpos.shape[-1] != ROOT_QPOS + NUM_JOINTS or qvel.shape[-1] != ROOT_QVEL + NUM_JOINTS:
            raise ValueError(f"qpos/qvel of shape {qpos.shape}/{qvel.shape}: want (..., 36)/(..., 35)")
        return cls(
            joint_pos=qpos[..., ROOT_QPOS:].copy(),
            joint_vel=qvel[..., ROOT_QVEL:].copy(),
            root_quat_w=qpos[..., 3:ROOT_QPOS].copy(),
            root_ang_vel_b=qvel[..., 3:ROOT_QVEL].copy(),
            root_pos_w=qpos[..., :3].copy(),
            root_lin_vel_w=qvel[..., :3].copy(),
            **other,
        )

    def select(self, idx: Any) -> RobotState:
        """The state of some batch elements (numpy index over the leading dims) as a plain RobotState."""
        return RobotState(**_index(self, idx, RobotState))

    def assign(self, idx: Any, part: RobotState) -> None:
        """Overwrite batch elements ``idx`` with ``part`` (a state of those elements only), in place."""
        for f in fields(self):
            dst, src = getattr(self, f.name), getattr(part, f.name)
            if dst is not None and src is not None:
                dst[idx] = src


@dataclass(slots=True)
class ReferenceFrame:
    """Reference motion at one instant per batch element (or a whole clip, leading dim T).

    Leading shape ``(...)``.

    Attributes:
        root_pos_w: Pelvis position [m], (..., 3).
        root_quat_w: Pelvis orientation, wxyz, (..., 4).
        root_lin_vel_w: Pelvis linear velocity [m/s], (..., 3).
        root_ang_vel_w: Pelvis angular velocity, world [rad/s], (..., 3).
        joint_pos: Joint angles [rad], (..., 29).
        joint_vel: Joint speeds [rad/s], (..., 29).
        keypoint_pos_w: Keypoint body positions [m], (..., K, 3), or None.
        keypoint_quat_w: Keypoint body orientations, wxyz, (..., K, 4), or None.
        keypoint_lin_vel_w: Keypoint body velocities [m/s], (..., K, 3), or None.
    """

    root_pos_w: np.ndarray
    root_quat_w: np.ndarray
    root_lin_vel_w: np.ndarray
    root_ang_vel_w: np.ndarray
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    keypoint_pos_w: np.ndarray | None = None
    keypoint_quat_w: np.ndarray | None = None
    keypoint_lin_vel_w: np.ndarray | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading dims ``(...)``."""
        return tuple(np.shape(self.joint_pos)[:-1])

    @property
    def root_ang_vel_b(self) -> np.ndarray:
        """Pelvis angular velocity in the reference pelvis frame [rad/s], (..., 3)."""
        return quat_apply_inv(self.root_quat_w, self.root_ang_vel_w)

    def qpos(self) -> np.ndarray:
        """MuJoCo qpos of the reference pose, (..., 36)."""
        return np.concatenate((self.root_pos_w, self.root_quat_w, self.joint_pos), axis=-1)

    def qvel(self) -> np.ndarray:
        """MuJoCo qvel (root angular velocity in the root frame, as the free joint stores it), (..., 35)."""
        return np.concatenate((self.root_lin_vel_w, self.root_ang_vel_b, self.joint_vel), axis=-1)

    def as_robot_state(self) -> RobotState:
        """The state of a robot exactly on this reference (root truth set; bodies = the keypoints)."""
        return RobotState(
            joint_pos=self.joint_pos,
            joint_vel=self.joint_vel,
            root_quat_w=self.root_quat_w,
            root_ang_vel_b=self.root_ang_vel_b,
            root_pos_w=self.root_pos_w,
            root_lin_vel_w=self.root_lin_vel_w,
            body_pos_w=self.keypoint_pos_w,
            body_quat_w=self.keypoint_quat_w,
            body_lin_vel_w=self.keypoint_lin_vel_w,
        )

    def select(self, idx: Any) -> ReferenceFrame:
        """The frames of some batch elements (numpy index over the leading dims), a plain ReferenceFrame."""
        return ReferenceFrame(**_index(self, idx, ReferenceFrame))
