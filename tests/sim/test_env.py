"""Tracking env: observations from build_obs, episodes, terminations, determinism."""

from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_core.obs import ObsInput, build_obs, privileged_obs_terms
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank

SMALL = EnvConfig(num_envs=3, nthread=0, episode_frames=(600, 1200))


def test_reset_places_robot_on_reference(standing_bank):
    env = TrackingEnv(SMALL, standing_bank)
    ref = env.reference()
    np.testing.assert_allclose(env.state.qpos(), ref.qpos(), atol=1e-12)
    np.testing.assert_allclose(env.state.body_pos_w, ref.keypoint_pos_w, atol=1e-9)
    np.testing.assert_allclose(env.state.body_quat_w, ref.keypoint_quat_w, atol=1e-9)
    assert ((env.frames >= 0) & (env.frames < standing_bank.lengths[0] - 1)).all()
    assert ((env.ep_len >= 600) & (env.ep_len <= 1200)).all()


def test_obs_equals_build_obs_on_the_same_state(standing_bank):
    env = TrackingEnv(SMALL, standing_bank)
    for _ in range(3):
        res = env.step(torch.randn(3, 29) * 0.1)
    s, ref, last = env.state, env.reference(1), env.last_action
    # Built by hand from raw qpos/qvel (not through ObsInput.from_state).
    qpos, qvel = s.qpos(), s.qvel()
    inp = ObsInput(
        joint_pos=qpos[:, 7:],
        joint_vel=qvel[:, 6:],
        base_quat=qpos[:, 3:7],
        base_ang_vel_b=qvel[:, 3:6],
        last_action=last,
        ref_root_pos_w=ref.root_pos_w,
        ref_root_quat=ref.root_quat_w,
        ref_root_lin_vel_w=ref.root_lin_vel_w,
        ref_root_ang_vel_w=ref.root_ang_vel_w,
        ref_joint_pos=ref.joint_pos,
        ref_joint_vel=ref.joint_vel,
        default_joint_pos=KNEES_BENT_POSE,
        base_pos_w=qpos[:, :3],
        base_lin_vel_w=qvel[:, :3],
        keypoint_pos_w=s.body_pos_w,
        ref_keypoint_pos_w=ref.keypoint_pos_w,
    )
    np.testing.assert_array_equal(res.obs.numpy(), build_obs(inp))
    np.testing.assert_array_equal(res.priv_obs.numpy(), build_obs(inp, privileged_obs_terms(14)))
    assert res.obs.shape == (3, 161) and res.obs.dtype == torch.float32


def test_base_ang_vel_is_the_imu_gyro(standing_bank):
    env = TrackingEnv(SMALL, standing_bank)
    for _ in range(20):  # zero actions: the robot starts to tip over, so it rotates
        env.step(torch.zeros(3, 29))
    m = env.backend.base
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = env.state.qpos()[0], env.state.qvel()[0]
    mujoco.mj_forward(m, d)
    gyro = d.sensor("imu_ang_vel").data
    assert np.linalg.norm(gyro) > 0.01
    np.testing.assert_allclose(env.observe()[0][0, :3].numpy(), gyro, atol=1e-5)


def test_hold_default_falls_and_terminates(standing_bank):
    env = TrackingEnv(replace(SMALL, num_envs=1, random_start=False, auto_reset=False), standing_bank)
    steps = 0
    while steps < 150:
        res = env.step(torch.zeros(1, 29))
        steps += 1
        if res.terminated[0]:
            break
    assert res.terminated[0] and not res.truncated[0]
    assert 10 < steps < 150  # the G1 on pure PD tips over within ~2 s, not at once
    reasons = {k for k, v in res.info.items() if k.startswith("termination/") and v}
    assert reasons and reasons <= {"termination/tilt", "termination/anchor_height", "termination/ee_height"}


def test_time_out_and_clip_end_truncate(standing_bank, make_standing_clip):
    env = TrackingEnv(replace(SMALL, num_envs=2, random_start=False, episode_frames=(5, 5)), standing_bank)
    for i in range(5):
        act = (env.reference(1).joint_pos - env.default_pose) / env.action_scale
        res = env.step(torch.from_numpy(act))
        assert bool(res.truncated.all()) == (i == 4)
    assert not res.terminated.any() and (env.ep_step == 0).all()  # auto-reset after the time-out
    short = MotionBank([ReferenceMotion.from_clip(make_standing_clip(frames=8))])
    env = TrackingEnv(replace(SMALL, num_envs=1, random_start=False, auto_reset=False), short)
    for i in range(7):
        act = (env.reference(1).joint_pos - env.default_pose) / env.action_scale
        res = env.step(torch.from_numpy(act))
        assert bool(res.truncated[0]) == (i == 6)


def run(seed: int, bank, steps: int = 8) -> list[np.ndarray]:
    cfg = replace(SMALL, seed=seed, dr=DRConfig.paper(), nthread=2)
    env = TrackingEnv(cfg, bank)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        res = env.step(torch.randn(3, 29, generator=gen) * 0.2)
        out += [res.obs.numpy(), res.reward.numpy()]
    env.close()
    return out


def test_deterministic_given_seed(standing_bank):
    a, b, c = run(1, standing_bank), run(1, standing_bank), run(2, standing_bank)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_bad_config_is_refused(standing_bank):
    from hgpt_core.policy_meta import PolicyMetadata

    with pytest.raises(ValueError, match="control_dt"):
        TrackingEnv(SMALL, standing_bank, meta=PolicyMetadata("p", control_dt=0.01))
    with pytest.raises(ValueError, match="clip"):
        standing_bank.clip_index("nope")


def test_step_does_not_write_into_the_callers_arrays(standing_bank):
    env = TrackingEnv(replace(SMALL, episode_frames=(1, 1)), standing_bank)  # every step resets all envs
    targets = np.tile(KNEES_BENT_POSE, (3, 1))
    action = torch.zeros(3, 29, dtype=torch.float64)
    env.step_targets(targets)
    env.step(action)
    np.testing.assert_array_equal(targets, np.tile(KNEES_BENT_POSE, (3, 1)))
    assert not action.any()
