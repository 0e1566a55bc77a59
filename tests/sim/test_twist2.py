"""TWIST2 adapter: observation layout exactly as LAYOUT.md, action decoding, and tracking on a real clip."""

import numpy as np
import pytest

from hgpt_core.rotations import axis_angle_to_quat, quat_apply_inv
from hgpt_policy.twist2 import CUR_DIM, OBS_DIM, TWIST2_DEFAULT_POSE, TWIST2_KP
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.metrics import step_errors
from hgpt_sim.twist2 import Twist2Adapter, mimic_obs, twist2_actuation


def make_env(bank, steps: int | None = None) -> tuple[TrackingEnv, Twist2Adapter]:
    ad = Twist2Adapter()
    n = steps or int(bank.lengths[0]) - 1
    cfg = EnvConfig(num_envs=1, nthread=0, random_start=False, auto_reset=False, episode_frames=(n, n))
    return TrackingEnv(cfg, bank, actuation=ad.actuation), ad


def test_observation_layout(standing_bank, twist2_onnx):
    env, ad = make_env(standing_bank)
    s, ref = env.state, env.reference(1)
    obs = [ad.build_obs(s, ref) for _ in range(3)]
    assert obs[0].shape == (1, OBS_DIM) == (1, 1432)
    mimic = obs[0][0, :35]
    np.testing.assert_array_equal(obs[0][0, -35:], mimic)  # "future" = copy of the current mimic
    np.testing.assert_array_equal(obs[0][0, CUR_DIM:-35], 0.0)  # zero-initialised history
    # history excludes the current frame and is oldest first: step 3 holds steps 1, 2 in the last slots
    hist = obs[2][0, CUR_DIM:-35].reshape(10, CUR_DIM)
    np.testing.assert_array_equal(hist[-1], obs[1][0, :CUR_DIM])
    np.testing.assert_array_equal(hist[-2], obs[0][0, :CUR_DIM])
    np.testing.assert_array_equal(hist[:-2], 0.0)
    # mimic: root vel xy in the root frame | z | roll, pitch | yaw rate | 29 joints
    np.testing.assert_allclose(mimic[2], ref.root_pos_w[0, 2], rtol=1e-6)
    np.testing.assert_allclose(mimic[6:], ref.joint_pos[0], rtol=1e-6, atol=1e-7)
    # proprio: ang vel * 0.25 | roll, pitch | q - default | dq * 0.05 with ankles zeroed | last action
    prop = obs[0][0, 35:CUR_DIM]
    np.testing.assert_allclose(prop[5:34], s.joint_pos[0] - TWIST2_DEFAULT_POSE, atol=1e-6)
    assert not prop[34 + np.array([4, 5, 10, 11])].any()


def test_mimic_velocity_is_in_the_full_root_frame(standing_bank):
    ref = standing_bank.frame(np.array([0]), np.array([3]))
    tilt = axis_angle_to_quat(np.array([1.0, 0.0, 0.0]), np.array(0.4))
    ref.root_quat_w = tilt[None]
    ref.root_lin_vel_w = np.array([[0.3, 0.5, 0.2]])
    m = mimic_obs(ref)
    np.testing.assert_allclose(m[0, :2], quat_apply_inv(tilt, ref.root_lin_vel_w[0])[:2])
    np.testing.assert_allclose(m[0, 3], 0.4, atol=1e-9)  # roll


def test_action_decoding_and_gains(standing_bank, twist2_onnx):
    env, ad = make_env(standing_bank)

    class Fixed:
        def run(self, _outputs, _feeds):
            return [np.array([[20.0] + [-0.2] * 28], dtype=np.float32)]

    ad.session = Fixed()
    target = ad.act(env.state, env.reference(1))
    assert target[0, 0] == pytest.approx(10.0 * 0.5 + TWIST2_DEFAULT_POSE[0])  # clipped at 10, scaled 0.5
    np.testing.assert_allclose(target[0, 1:], -0.1 + TWIST2_DEFAULT_POSE[1:], atol=1e-7)
    assert ad.last_action[0, 0] == 20.0  # proprio feeds back the raw output, before the clip
    act = twist2_actuation()
    assert act.physics_dt == 0.001 and act.integrator == "euler"
    np.testing.assert_array_equal(
        act.torque_limit,
        np.minimum(
            TWIST2_KP, [88, 139, 88, 139, 50, 50] * 2 + [88, 50, 50] + [25] * 5 + [5, 5] + [25] * 5 + [5, 5]
        ),
    )


def test_tracks_a_walking_clip(walk_bank, twist2_onnx):
    env, ad = make_env(walk_bank, steps=150)
    errs = []
    for _ in range(150):  # 3 s
        res = env.step_targets(ad.act(env.state, env.reference(1)))
        assert not res.terminated[0], res.info
        errs.append(step_errors(env.state, env.reference())["mpjpe"][0])
    assert 0.02 < np.mean(errs) < 0.15  # LAYOUT.md: 0.081-0.085 rad over the whole clip


@pytest.mark.slow
def test_reproduces_layout_numbers_on_the_whole_walk(walk_bank, twist2_onnx):
    """LAYOUT.md: LAFAN1 walk1_subject1 finished with mean |q - q_ref| 0.081-0.085 rad (~25 s here)."""
    env, ad = make_env(walk_bank)
    errs = []
    for _ in range(int(walk_bank.lengths[0]) - 1):
        res = env.step_targets(ad.act(env.state, env.reference(1)))
        assert not res.terminated[0], res.info
        errs.append(step_errors(env.state, env.reference())["mpjpe"][0])
    assert 0.075 < np.mean(errs) < 0.092
