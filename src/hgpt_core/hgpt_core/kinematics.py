"""Batched, vectorised forward kinematics of the G1 (numpy), equal to ``mujoco.mj_kinematics``.

The kinematic tree (body offsets, hinge axes and anchors) is read once from the compiled MJCF;
each call then evaluates every frame of a clip at once, body by body.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, robot_xml_path
from hgpt_core.rotations import axis_angle_to_quat, quat_apply, quat_mul, quat_normalize


@dataclass(frozen=True)
class FKResult:
    """Body and site poses in the world frame.

    Shape: pos (T, B, 3) [m], quat (T, B, 4) wxyz, site_pos (T, S, 3) [m].
    """

    body_names: tuple[str, ...]
    pos: np.ndarray
    quat: np.ndarray
    site_names: tuple[str, ...]
    site_pos: np.ndarray

    def body(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Position (T, 3) and quaternion (T, 4) of one body."""
        i = self.body_names.index(name)
        return self.pos[:, i], self.quat[:, i]

    def site(self, name: str) -> np.ndarray:
        """Position (T, 3) of one site."""
        return self.site_pos[:, self.site_names.index(name)]


class G1Kinematics:
    """Forward kinematics for the G1 free-floating tree with 29 hinges in ``G1_JOINT_NAMES`` order."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        m = model if model is not None else mujoco.MjModel.from_xml_path(str(robot_xml_path()))
        self.model = m
        self.body_names = tuple(m.body(i).name for i in range(1, m.nbody))  # skip world
        self.site_names = tuple(m.site(i).name for i in range(m.nsite))
        self.parent = m.body_parentid[1:].copy() - 1  # -1 = world
        self.body_pos = m.body_pos[1:].copy()
        self.body_quat = m.body_quat[1:].copy()
        # Index into the 29-joint vector for each body's hinge (-1: none / free joint).
        names = {m.joint(j).name: j for j in range(m.njnt)}
        self.hinge = np.full(m.nbody - 1, -1)
        self.axis = np.zeros((m.nbody - 1, 3))
        self.anchor = np.zeros((m.nbody - 1, 3))
        for k, jn in enumerate(G1_JOINT_NAMES):
            j = names[jn]
            b = m.jnt_bodyid[j] - 1
            assert m.body_jntnum[b + 1] == 1, "one hinge per body expected"
            self.hinge[b], self.axis[b], self.anchor[b] = k, m.jnt_axis[j], m.jnt_pos[j]
        self.site_body = m.site_bodyid.copy() - 1
        self.site_local = m.site_pos.copy()

    def forward(self, root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray) -> FKResult:
        """Poses of every body and site.

        Args:
            root_pos: Pelvis position [m], shape (T, 3).
            root_quat: Pelvis orientation wxyz, shape (T, 4).
            joint_pos: Joint angles [rad] in G1 order, shape (T, 29).
        """
        root_pos = np.atleast_2d(root_pos)
        t = root_pos.shape[0]
        nb = len(self.body_names)
        pos = np.empty((t, nb, 3))
        quat = np.empty((t, nb, 4))
        for b in range(nb):
            p = self.parent[b]
            if p < 0:  # free-floating root
                pos[:, b] = root_pos
                quat[:, b] = quat_normalize(np.atleast_2d(root_quat))
                continue
            qb = quat_mul(quat[:, p], self.body_quat[b])
            xb = pos[:, p] + quat_apply(quat[:, p], np.broadcast_to(self.body_pos[b], (t, 3)))
            k = self.hinge[b]
            if k >= 0:
                anchor_w = xb + quat_apply(qb, np.broadcast_to(self.anchor[b], (t, 3)))
                qb = quat_mul(qb, axis_angle_to_quat(self.axis[b], joint_pos[:, k]))
                xb = anchor_w - quat_apply(qb, np.broadcast_to(self.anchor[b], (t, 3)))
            pos[:, b], quat[:, b] = xb, qb
        site_pos = pos[:, self.site_body] + quat_apply(quat[:, self.site_body], self.site_local)
        return FKResult(self.body_names, pos, quat, self.site_names, site_pos)
