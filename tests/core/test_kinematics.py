"""Vectorised FK equals mujoco.mj_kinematics for every body and site."""

import mujoco
import numpy as np

from hgpt_core.g1 import JOINT_LIMITS
from hgpt_core.kinematics import G1Kinematics
from hgpt_core.rotations import quat_normalize


def test_fk_matches_mujoco():
    fk = G1Kinematics()
    m, d = fk.model, mujoco.MjData(fk.model)
    rng = np.random.default_rng(1)
    n = 16
    pos = rng.normal(size=(n, 3))
    quat = quat_normalize(rng.normal(size=(n, 4)))
    q = rng.uniform(JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1], size=(n, 29))
    res = fk.forward(pos, quat, q)
    for i in range(n):
        d.qpos[:3], d.qpos[3:7], d.qpos[7:] = pos[i], quat[i], q[i]
        mujoco.mj_kinematics(m, d)
        np.testing.assert_allclose(res.pos[i], d.xpos[1:], atol=1e-10)
        np.testing.assert_allclose(np.abs(np.sum(res.quat[i] * d.xquat[1:], -1)), 1.0, atol=1e-10)
        np.testing.assert_allclose(res.site_pos[i], d.site_xpos, atol=1e-10)
    assert res.body("pelvis")[0].shape == (n, 3)
    assert res.site("left_foot").shape == (n, 3)
