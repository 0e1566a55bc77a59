"""Policy runtime: every semantics and backend reproduces the model on real tokens; refusals and errors."""

import dataclasses

import numpy as np
import pytest
import torch
from _walk_tokens import episodes

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.g1 import G1_JOINT_NAMES, G1Spec
from hgpt_core.obs import PROPRIO_TERMS, obs_layout
from hgpt_core.policy_meta import RobotConfig
from hgpt_policy.config import baseline_config, gpt_config
from hgpt_policy.engines import BackendUnavailable
from hgpt_policy.export import export_policy
from hgpt_policy.model import build_policy, make_metadata
from hgpt_policy.runtime import Policy, decode_action

H = 8
TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "mlp_hidden": 64, "context_len": H}
CONFIGS = [
    gpt_config("S", "window", **TINY),
    gpt_config("S", "sliding_kv", **TINY),
    baseline_config("mlp", mlp_dims=(64, 32)),
    baseline_config("mlp_stacked", context_len=H, mlp_dims=(64, 32)),
    baseline_config("tcn", tcn_channels=16, tcn_dilations=(1, 2), context_len=H),
]
IDS = [f"{c.kind}-{c.inference}" for c in CONFIGS]


def make(cfg, tokens: np.ndarray | None = None):
    torch.manual_seed(0)
    model = build_policy(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)  # strong token mixing, unlike the near-identity initialisation
    if tokens is not None:
        model.normalizer.update(torch.from_numpy(tokens))
    model.eval()
    return model, make_metadata(cfg, f"test_{cfg.kind}_{cfg.inference}")


@pytest.fixture(scope="module")
def real_tokens(shared_data_or_skip) -> np.ndarray:
    return episodes(shared_data_or_skip, batch=2, length=4 * H + 3)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_torch_runtime_equals_model_rollout(cfg, real_tokens):
    """Includes the start of the episode (short window / empty cache / padded stack) and t >> H."""
    model, meta = make(cfg, real_tokens)
    expected = model.rollout(torch.from_numpy(real_tokens)).detach().numpy()
    got = Policy.from_model(model, meta).run(real_tokens)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    single = Policy.from_model(model, meta)  # unbatched tokens give unbatched actions
    a0 = [single.step(real_tokens[0, t]) for t in range(real_tokens.shape[1])]
    assert a0[0].shape == (29,)
    np.testing.assert_allclose(np.stack(a0), expected[0], rtol=1e-5, atol=1e-5)


def test_window_queue_start_of_episode_is_prefix_forward(real_tokens):
    cfg = CONFIGS[0]
    model, meta = make(cfg, real_tokens)
    pol = Policy.from_model(model, meta)
    x = real_tokens[:1]
    for t in range(2 * H):
        a = pol.step(x[0, t])
        win = torch.from_numpy(x[:, max(0, t - H + 1) : t + 1])  # n = min(t + 1, H) tokens, positions 0..n-1
        np.testing.assert_allclose(a, model(win)[0, -1].detach().numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_onnx_runtime_equals_model(cfg, real_tokens, tmp_path):
    model, meta = make(cfg, real_tokens)
    paths = export_policy(model, meta, tmp_path, "p")
    graph = "kv_step" if cfg.inference == "sliding_kv" else "window"
    expected = model.rollout(torch.from_numpy(real_tokens)).detach().numpy()
    got = Policy.load(paths[graph], "onnxruntime", threads=1).run(real_tokens)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    pt = Policy.load(paths["checkpoint"], "torch").run(real_tokens)
    np.testing.assert_allclose(pt, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[1], CONFIGS[3]], ids=[IDS[0], IDS[1], IDS[3]])
def test_per_row_reset(cfg, tmp_path):
    """Resetting one row of a batch restarts that episode only (batched rollouts with async resets)."""
    model, meta = make(cfg)
    x = np.random.default_rng(0).normal(size=(2, 3 * H, 161)).astype(np.float32)
    path = export_policy(model, meta, tmp_path, "p")["kv_step" if cfg.inference == "sliding_kv" else "window"]
    for pol in (Policy.from_model(model, meta), Policy.load(path)):
        pol.reset()
        for t in range(H + 3):
            pol.step(x[:, t])
        pol.reset([1])
        got = np.stack([pol.step(np.stack([x[0, H + 3 + t], x[1, t]])) for t in range(2 * H - 3)], 1)
        ref = model.rollout(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(got[0], ref[0, H + 3 :], rtol=0, atol=1e-4)
        np.testing.assert_allclose(got[1], ref[1, : 2 * H - 3], rtol=0, atol=1e-4)


def test_step_rejects_wrong_shapes():
    model, meta = make(CONFIGS[1])
    pol = Policy.from_model(model, meta)
    for bad in (np.zeros(160), np.zeros((2, 3, 161)), np.zeros((1, 29))):
        with pytest.raises(ValueError, match="expected"):
            pol.step(bad)
    pol.step(np.zeros((3, 161)))
    with pytest.raises(ValueError, match="reset"):
        pol.step(np.zeros((2, 161)))
    pol.reset()
    assert pol.step(np.zeros((2, 161))).shape == (2, 29)


def test_refuses_metadata_mismatch(tmp_path):
    model, meta = make(CONFIGS[1])
    swapped = list(G1_JOINT_NAMES)
    swapped[0], swapped[6] = swapped[6], swapped[0]
    bad = dataclasses.replace(meta, joint_names=swapped)
    with pytest.raises(MetadataMismatchError) as err:
        Policy.from_model(model, bad)
    assert "#0: policy 'right_hip_pitch_joint' vs robot 'left_hip_pitch_joint'" in str(err.value)

    robot = RobotConfig(obs_terms=tuple(obs_layout(PROPRIO_TERMS)), control_dt=0.01)
    with pytest.raises(MetadataMismatchError) as err:
        Policy.from_model(model, meta, robot=robot, inference="window")
    msg = str(err.value)
    assert "obs_terms differ" in msg and "control_dt differs" in msg
    assert "inference differs: policy 'sliding_kv' vs runtime 'window'" in msg

    lying = dataclasses.replace(meta, inference="window")  # metadata says window, weights are sliding_kv
    with pytest.raises(MetadataMismatchError, match="built for 'sliding_kv'"):
        Policy.from_model(model, lying)


def test_refuses_graph_that_does_not_implement_the_semantics(tmp_path):
    model, meta = make(CONFIGS[1])
    paths = export_policy(model, meta, tmp_path, "p")
    with pytest.raises(MetadataMismatchError, match="needs the 'kv_step' graph"):
        Policy.load(paths["window"])
    with pytest.raises(ValueError, match="loads .onnx"):
        Policy.load(paths["checkpoint"], "onnxruntime")


def test_tensorrt_backend_or_clear_skip(tmp_path):
    model, meta = make(CONFIGS[1])
    path = export_policy(model, meta, tmp_path, "p")["kv_step"]
    try:
        pol = Policy.load(path, "tensorrt")
    except BackendUnavailable as exc:
        assert "tensorrt" in str(exc)
        pytest.skip(str(exc))
    x = np.random.default_rng(0).normal(size=(1, 2 * H, 161)).astype(np.float32)
    np.testing.assert_allclose(pol.run(x), model.rollout(torch.from_numpy(x)).detach().numpy(), atol=1e-3)


def test_decode_action():
    _, meta = make(CONFIGS[2])
    spec = G1Spec()
    np.testing.assert_allclose(decode_action(np.zeros(29), meta), spec.default_joint_pos)
    a = np.linspace(-1, 1, 29)
    np.testing.assert_allclose(decode_action(a[None], meta)[0], spec.default_joint_pos + 0.25 * a)
