"""hgpt adapter: observation from build_obs, action decoding with the metadata, per-env resets."""

import numpy as np
import pytest

from hgpt_core.obs import ObsInput, build_obs
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_sim.adapters import HgptAdapter, hold_default_adapter
from hgpt_sim.env import EnvConfig, TrackingEnv


class RecordingRuntime:
    """A runtime with the hgpt_policy ``Policy`` interface: step((B, D)) -> (B, 29), reset(rows)."""

    def __init__(self) -> None:
        self.seen, self.resets = [], []

    def step(self, obs: np.ndarray) -> np.ndarray:
        self.seen.append(obs.copy())
        return np.full((obs.shape[0], 29), 0.5, dtype=np.float32)

    def reset(self, rows=None) -> None:
        self.resets.append(rows)


def test_hgpt_adapter_builds_obs_and_decodes(standing_bank):
    meta = PolicyMetadata("p", action_scale=[0.2] * 29, kp=[50.0] * 29, kd=[2.0] * 29, context_len=1)
    rt = RecordingRuntime()
    ad = HgptAdapter(meta, rt)
    env = TrackingEnv(EnvConfig(num_envs=2, nthread=0), standing_bank, meta=meta, actuation=ad.actuation)
    ad.reset()
    t1 = ad.act(env.state, env.reference(1))
    np.testing.assert_allclose(t1, np.tile(np.asarray(meta.default_joint_pos) + 0.2 * 0.5, (2, 1)))
    expected = build_obs(
        ObsInput.from_state(
            env.state, env.reference(1), np.zeros((2, 29)), meta.arrays()["default_joint_pos"]
        )
    )
    np.testing.assert_array_equal(rt.seen[0], expected)
    env.step_targets(t1)
    ad.act(env.state, env.reference(1))
    last_action_cols = rt.seen[1][:, 64:93]  # proprio: 3 + 3 + 29 + 29, then last_action
    np.testing.assert_allclose(last_action_cols, 0.5)
    ad.reset(np.array([1]))
    assert rt.resets[-1].tolist() == [1] and ad.last_action[1].sum() == 0 and ad.last_action[0].sum() > 0
    assert ad.actuation.kp.tolist() == [50.0] * 29 and ad.actuation.physics_dt == 0.005


def test_tracking_policy_interface(standing_bank):
    loader = pytest.importorskip("hgpt_policy.loader")
    policy = loader.load_tracking_policy("zero")
    ad = HgptAdapter(policy.meta, policy)
    env = TrackingEnv(EnvConfig(num_envs=3, nthread=0), standing_bank)
    np.testing.assert_allclose(
        ad.act(env.state, env.reference(1)), np.tile(policy.meta.default_joint_pos, (3, 1))
    )


def test_reset_reaches_runtimes_with_and_without_ids(standing_bank):
    """Rows of the reset envs are zeroed; the runtime is reset with the ids, or without when it takes none."""

    class AllOrNothing(RecordingRuntime):
        def reset(self) -> None:  # e.g. a one-env runtime
            self.resets.append("all")

    class NoReset:
        def step(self, obs: np.ndarray) -> np.ndarray:
            return np.ones((obs.shape[0], 29))

    meta = PolicyMetadata("p", context_len=1)
    env = TrackingEnv(EnvConfig(num_envs=3, nthread=0), standing_bank)
    for runtime, want in ((RecordingRuntime(), [1]), (AllOrNothing(), "all"), (NoReset(), None)):
        ad = HgptAdapter(meta, runtime)
        ad.reset(np.array([1]))  # before any step: nothing to zero yet
        ad.act(env.state, env.reference(1))
        ad.reset(np.array([1]))
        assert ad.last_action is not None and ad.last_action[[0, 2]].all() and not ad.last_action[1].any()
        got = getattr(runtime, "resets", [None])[-1]
        assert (got.tolist() if isinstance(got, np.ndarray) else got) == want, type(runtime).__name__
    ad.act(env.state, env.reference(1))
    ad.reset()
    assert not ad.last_action.any()


def test_bad_runtime_or_metadata_is_refused():
    with pytest.raises(ValueError, match="neither step"):
        HgptAdapter(PolicyMetadata("p"), object())
    with pytest.raises(ValueError, match="invalid"):
        HgptAdapter(PolicyMetadata("p", kp=[-1.0] * 29), RecordingRuntime())
    assert hold_default_adapter().name == "hold_default"
