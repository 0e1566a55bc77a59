"""Physics backend: PD law of the position actuators, motor-mode equivalence, state reading, DR ranges."""

from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

from hgpt_core.g1 import KEYPOINT_BODIES, KNEES_BENT_POSE, G1Spec
from hgpt_sim.backend import RolloutBackend
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.model import Actuation, apply_actuation, build_physics_model, pd_torque
from hgpt_sim.randomization import DRConfig, PushSchedule, terrain_noise

SPEC = G1Spec()


@pytest.mark.parametrize("integrator", ["implicitfast", "euler"])
def test_position_actuator_is_the_pd_law_within_forcerange(integrator):
    rng = np.random.default_rng(0)
    act = Actuation(
        rng.uniform(10, 200, 29), rng.uniform(0.5, 8, 29), SPEC.effort_limit, integrator=integrator
    )
    m = build_physics_model()
    apply_actuation(m, act)
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    d.qpos[7:] += rng.normal(0, 0.3, 29)
    d.qvel[6:] = rng.normal(0, 3, 29)
    d.ctrl[:] = KNEES_BENT_POSE + rng.normal(0, 0.5, 29)
    mujoco.mj_forward(m, d)
    expected = pd_torque(act, d.ctrl, d.qpos[7:], d.qvel[6:])
    np.testing.assert_allclose(d.actuator_force, expected, rtol=1e-12, atol=1e-9)
    assert (np.abs(expected) == SPEC.effort_limit).any()  # some joints saturate: the clip is exercised
    np.testing.assert_allclose(d.qfrc_actuator[6:], expected, atol=1e-9)


def test_python_torque_pd_equals_actuator_pd_with_euler():
    """The peers' loop (torque from the state every 1 ms) == position actuators + explicit Euler."""
    kp, kd = np.full(29, 60.0), np.full(29, 3.0)
    runs = []
    for pd in ("actuator", "python"):
        b = RolloutBackend(2, nthread=0)
        b.configure(Actuation(kp, kd, np.minimum(kp, SPEC.effort_limit), 0.001, "euler", pd))
        rng = np.random.default_rng(1)
        for _ in range(10):
            b.step(KNEES_BENT_POSE + rng.normal(0, 0.2, (2, 29)), 20)
        runs.append(b.read().qpos())
        b.close()
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_read_velocities_and_subsets():
    b = RolloutBackend(3, nthread=0)
    b.configure(Actuation(SPEC.kp, SPEC.kd))
    rng = np.random.default_rng(2)
    qpos = np.tile(b.state[0, 1:37], (3, 1))
    qpos[:, 7:] += rng.normal(0, 0.2, (3, 29))
    b.set_state(np.arange(3), qpos, rng.normal(0, 1.0, (3, 35)))
    s = b.read()
    d = mujoco.MjData(b.base)
    d.qpos[:], d.qvel[:] = s.qpos()[2], s.qvel()[2]
    mujoco.mj_forward(b.base, d)
    for k, name in enumerate(KEYPOINT_BODIES):
        v = np.zeros(6)
        mujoco.mj_objectVelocity(b.base, d, mujoco.mjtObj.mjOBJ_XBODY, b.base.body(name).id, v, 0)
        np.testing.assert_allclose(s.body_lin_vel_w[2, k], v[3:], atol=1e-10)
        np.testing.assert_allclose(s.body_pos_w[2, k], d.xpos[b.base.body(name).id])
    part = b.read(np.array([2, 0]))
    np.testing.assert_array_equal(part.body_pos_w, s.body_pos_w[[2, 0]])


def test_self_contact_is_counted():
    b = RolloutBackend(2, nthread=0)
    b.configure(Actuation(SPEC.kp, SPEC.kd))
    qpos = np.tile(b.state[0, 1:37], (2, 1))
    pose = KNEES_BENT_POSE.copy()
    pose[16], pose[18] = -1.2, 0.0  # left arm swung into the torso
    qpos[1, 7:] = pose
    b.set_state(np.arange(2), qpos, np.zeros((2, 35)))
    b.step(np.stack((KNEES_BENT_POSE, pose)), 4)
    assert b.read().self_contact.tolist()[0] == 0 and b.read().self_contact[1] >= 1


def test_dr_ranges_respected(standing_bank):
    dr = DRConfig.paper(terrain=True)
    env = TrackingEnv(EnvConfig(num_envs=6, nthread=0, dr=dr, seed=3), standing_bank)
    base = env.backend.base  # per-env models are copies; the base keeps the nominal values
    torso = base.body("torso_link").id
    feet = np.flatnonzero(base.geom_priority > 0)
    for m in env.backend.models:
        f = m.geom_friction[feet, 0]
        assert np.all(f == f[0]) and 0.3 <= f[0] <= 2.0 and m.geom_friction[m.geom("floor").id, 0] == f[0]
        assert np.all((m.dof_frictionloss[6:] >= 0.05) & (m.dof_frictionloss[6:] <= 0.2))
        ratio = m.dof_armature[6:] / base.dof_armature[6:]
        assert np.all((ratio >= 1.0) & (ratio <= 1.05))
        assert np.all(np.abs(m.body_ipos[torso] - base.body_ipos[torso]) <= 0.15)
        assert -3.0 <= m.body_mass[torso] - base.body_mass[torso] <= 6.0
        h = m.hfield_data
        assert h.min() >= 0.0 and h.max() <= 1.0 and h.max() > 0.5
    assert len({float(m.body_mass[torso]) for m in env.backend.models}) == 6  # per env, not shared
    assert np.all(np.abs(env.jitter) <= 0.05) and np.abs(env.jitter).max() > 0.01
    field = terrain_noise(np.random.default_rng(0), dr)
    n = field.shape[0]
    assert field[n // 2, n // 2] == 0.0  # flat where the robot starts


def test_dr_items_switch_independently(standing_bank):
    env = TrackingEnv(EnvConfig(num_envs=2, nthread=0), standing_bank)
    assert env.backend.models is None and not env.jitter.any()  # all off: one shared model
    env = TrackingEnv(EnvConfig(num_envs=2, nthread=0, dr=DRConfig(torso_mass=True)), standing_bank)
    base = build_physics_model()
    for m in env.backend.models:
        np.testing.assert_array_equal(m.geom_friction, base.geom_friction)
        np.testing.assert_array_equal(m.dof_armature, base.dof_armature)
        assert m.body_mass[16] != base.body_mass[16]
    assert not env.jitter.any()


def test_pushes_change_root_velocity_on_schedule(standing_bank):
    dr = replace(DRConfig(), push=True)
    sched = PushSchedule(4, dr, 0.02)
    rng = np.random.default_rng(0)
    sched.reset(rng, np.arange(4), np.zeros(4))
    assert np.all((sched.next_push >= 5.0) & (sched.next_push <= 10.0))
    ids, dv = sched.due(rng, np.full(4, 10.0))
    assert ids.tolist() == [0, 1, 2, 3]
    assert (
        np.all((np.linalg.norm(dv, axis=1) >= 0.1) & (np.linalg.norm(dv, axis=1) <= 1.0))
        and not dv[:, 2].any()
    )
    cfg = EnvConfig(num_envs=1, nthread=0, random_start=False)
    pushed = TrackingEnv(replace(cfg, dr=replace(dr, push_interval_s=(0.01, 0.01))), standing_bank)
    calm = TrackingEnv(cfg, standing_bank)
    for _ in range(2):  # the first push is due once 0.01 s have passed
        a = pushed.step(torch.zeros(1, 29))
        calm.step(torch.zeros(1, 29))
    dv = np.linalg.norm(pushed.state.root_lin_vel_w[0, :2] - calm.state.root_lin_vel_w[0, :2])
    assert 0.05 < dv < 1.1 and a.obs.shape == (1, 161)
