"""Batched forward kinematics of the G1: body and site poses for every frame of a clip."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, robot_xml_path


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
    """Forward kinematics for the G1 free-floating tree with 29 hinges in ``G1_JOINT_NAMES`` order.

    Runs MuJoCo's C ``mj_kinematics`` frame by frame into preallocated arrays: measured faster than a
    body-by-body numpy evaluation of all frames at once (benchmarks/bench_clips.py keeps both figures).
    """

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        m = model if model is not None else mujoco.MjModel.from_xml_path(str(robot_xml_path()))
        self.model = m
        self.data = mujoco.MjData(m)
        self.body_names = tuple(m.body(i).name for i in range(1, m.nbody))  # skip world
        self.site_names = tuple(m.site(i).name for i in range(m.nsite))
        adr = [m.jnt_qposadr[m.joint(n).id] for n in G1_JOINT_NAMES]
        assert adr == list(range(7, 7 + len(G1_JOINT_NAMES))), "model joint order differs from G1_JOINT_NAMES"

    def forward(self, root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray) -> FKResult:
        """Poses of every body and site.

        Args:
            root_pos: Pelvis position [m], shape (T, 3).
            root_quat: Pelvis orientation wxyz, shape (T, 4).
            joint_pos: Joint angles [rad] in G1 order, shape (T, 29).
        """
        qpos = np.concatenate(
            (
                np.atleast_2d(root_pos),
                np.atleast_2d(root_quat),
                np.atleast_2d(joint_pos),
            ),
            axis=1,
        )
        t, m, d = qpos.shape[0], self.model, self.data
        pos = np.empty((t, m.nbody - 1, 3))
        quat = np.empty((t, m.nbody - 1, 4))
        site_pos = np.empty((t, m.nsite, 3))
        for i in range(t):
            d.qpos[:] = qpos[i]
            mujoco.mj_kinematics(m, d)
            pos[i], quat[i], site_pos[i] = d.xpos[1:], d.xquat[1:], d.site_xpos
        return FKResult(self.body_names, pos, quat, self.site_names, site_pos)
