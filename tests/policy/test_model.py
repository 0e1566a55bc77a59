"""Humanoid-GPT and baselines: sizes, causality, KV-cache exactness, window semantics, normaliser, RoPE."""

import numpy as np
import pytest
import torch
from _walk_tokens import episodes

from hgpt_policy.config import PAPER_PARAMS, PolicyConfig, baseline_config, gpt_config
from hgpt_policy.layers import ObsNormalizer, RotaryEmbedding, apply_rope
from hgpt_policy.model import band_causal_mask, build_policy, num_params

TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "mlp_hidden": 64}
H = 8  # short context so sequences of several H stay fast


def tiny(inference: str = "sliding_kv", h: int = H) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_policy(gpt_config("S", inference, context_len=h, **TINY)).eval()


def scrambled(model: torch.nn.Module, std: float = 0.3) -> torch.nn.Module:
    """Large random weights: at GPT-2 initialisation attention barely mixes tokens, which would hide
    differences between semantics; a trained policy mixes them strongly."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model


def fitted(model: torch.nn.Module, tokens: np.ndarray) -> torch.nn.Module:
    """Fit the normaliser on real tokens, as training does, so that features are O(1)."""
    model.train()
    model.normalizer.update(torch.from_numpy(tokens))
    return model.eval()


@pytest.mark.parametrize("size", ["S", "B", "L"])
def test_param_counts_match_paper(size):
    with torch.device("meta"):
        model = build_policy(gpt_config(size))
    n = num_params(model)
    print(f"GPT-{size}: {n / 1e6:.2f}M parameters (paper {PAPER_PARAMS[size] / 1e6:.1f}M)")
    assert abs(n / PAPER_PARAMS[size] - 1) < 0.03


def test_gpt_s_builds_for_real():
    model = build_policy(gpt_config("S"))
    assert abs(num_params(model) / PAPER_PARAMS["S"] - 1) < 0.03
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_band_mask():
    m = band_causal_mask(5, 2)
    expected = np.array([[i - 2 < j <= i for j in range(5)] for i in range(5)])
    np.testing.assert_array_equal(m.numpy(), expected)
    np.testing.assert_array_equal(band_causal_mask(4, None).numpy(), np.tril(np.ones((4, 4), bool)))


@pytest.mark.parametrize(
    "cfg",
    [
        gpt_config("S", "window", context_len=H, **TINY),
        gpt_config("S", "sliding_kv", context_len=H, **TINY),
        baseline_config("mlp"),
        baseline_config("mlp_stacked", context_len=H),
        baseline_config("tcn", tcn_dilations=(1, 2)),
    ],
    ids=lambda c: f"{c.kind}-{c.inference}",
)
def test_causality(cfg):
    torch.manual_seed(0)
    model = build_policy(cfg).eval()
    t_len = H if cfg.inference == "window" else 3 * H
    x = torch.randn(2, t_len, cfg.obs_dim)
    y = model(x)
    for t in (0, t_len // 2, t_len - 2):
        x2 = x.clone()
        x2[:, t + 1 :] += torch.randn_like(x2[:, t + 1 :])  # change the future
        y2 = model(x2)
        torch.testing.assert_close(y2[:, : t + 1], y[:, : t + 1], rtol=0, atol=1e-6)
        assert (y2[:, t + 1] - y[:, t + 1]).abs().max() > 1e-4  # and the future does change


def test_sliding_band_limits_attention():
    """With the band mask, a token H or more steps back has no influence; within the band it does."""
    model = scrambled(tiny("sliding_kv"))
    x = torch.randn(1, 4 * H, 161)
    y = model(x)
    x2 = x.clone()
    x2[:, 0] += 5.0
    d = (model(x2) - y).abs().amax(-1)[0]
    # n_layer = 2 bands stack: token 0 reaches outputs up to 2 * (H - 1) steps later, not beyond
    assert d[: 2 * (H - 1) + 1].min() > 1e-4
    assert d[2 * (H - 1) + 1 :].max() == 0.0


@pytest.mark.parametrize("t_len", [2 * H + 1, 3 * H, 5 * H + 3])
def test_band_in_blocks_equals_the_full_mask(t_len):
    """Training sequences longer than 2H attend in blocks of H (T x 2H work): same actions and gradients
    as the (T, T) band mask, lengths that are and are not whole blocks."""
    model = scrambled(tiny("sliding_kv")).train()
    x = torch.randn(3, t_len, 161)
    outs, grads = [], []
    for blocks in (True, False):
        model.band_blocks = blocks
        model.zero_grad()
        y = model(x)
        y.square().mean().backward()
        outs.append(y.detach())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_kv_cache_equals_band_forward_on_real_tokens(shared_data_or_skip):
    tok = episodes(shared_data_or_skip, batch=3, length=4 * H)
    model = fitted(scrambled(tiny("sliding_kv"), 0.1), tok)
    x = torch.from_numpy(tok)
    full = model(x)
    k, v = model.empty_cache(3)
    pos = torch.zeros(3, dtype=torch.int64)
    steps = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            a, k, v = model.step(x[:, t], k, v, pos + t)
            steps.append(a)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=0, atol=1e-5)


def test_kv_cache_exact_at_large_positions():
    """RoPE is relative and its tables are float64-exact: numbering the steps from 10^6 (a multiple of H,
    so ring slots coincide) gives the same actions once every layer's band holds only real tokens."""
    model = tiny("sliding_kv")
    x = torch.randn(2, 4 * H, 161)
    outs = []
    for start in (0, 1_000_000):
        k, v = model.empty_cache(2)
        acts = []
        with torch.no_grad():
            for t in range(x.shape[1]):
                a, k, v = model.step(x[:, t], k, v, torch.full((2,), start + t))
                acts.append(a)
        outs.append(torch.stack(acts, 1))
    settled = TINY["n_layer"] * (H - 1)  # before this, the shifted run saw empty slots as filled
    torch.testing.assert_close(outs[1][:, settled:], outs[0][:, settled:], rtol=0, atol=1e-5)


def test_rope_relative_and_precise():
    rope = RotaryEmbedding(16)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)

    def score(pq: int, pk: int) -> float:
        cq, sq = rope.at(torch.tensor(pq))
        ck, sk = rope.at(torch.tensor(pk))
        return float(apply_rope(q.float(), cq, sq) @ apply_rope(k.float(), ck, sk))

    base = score(5, 2)
    for offset in (1_000, 123_456, 3_000_000):
        assert abs(score(5 + offset, 2 + offset) - base) < 1e-4
    pos = torch.tensor([7, 2_000_003])
    x = torch.randn(2, 16)
    rotated = (x[:, None] @ rope.rotation(pos))[:, 0]
    torch.testing.assert_close(rotated, apply_rope(x, *rope.at(pos)), rtol=0, atol=1e-6)


def test_window_rollout_is_per_window_forward():
    model = tiny("window")
    x = torch.randn(2, 3 * H + 1, 161)
    roll = model.rollout(x)
    for t in (0, 3, H - 1, H, 2 * H + 5, 3 * H):
        win = x[:, max(0, t - H + 1) : t + 1]  # positions 0..n-1 inside the window
        torch.testing.assert_close(roll[:, t], model(win)[:, -1], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="at most H"):
        model(x)


def test_window_and_sliding_differ_after_h():
    """Same weights, two semantics: identical for the first H steps, different afterwards (DESIGN §7)."""
    win = scrambled(tiny("window"))
    sld = build_policy(gpt_config("S", "sliding_kv", context_len=H, **TINY)).eval()
    sld.load_state_dict(win.state_dict())
    x = torch.randn(1, 3 * H, 161)
    a, b = win.rollout(x), sld.rollout(x)
    torch.testing.assert_close(a[:, :H], b[:, :H], rtol=0, atol=1e-6)
    assert (a[:, H:] - b[:, H:]).abs().max() > 1e-3


def test_normalizer_running_stats_and_freeze():
    norm = ObsNormalizer(3, clip=0.0).train()
    data = torch.randn(1000, 3, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor(
        [3.0, -1, 0]
    )
    for chunk in data.split(137):
        norm.update(chunk.float())
    np.testing.assert_allclose(norm.mean, data.mean(0), atol=1e-5)
    np.testing.assert_allclose(norm.var, data.var(0, unbiased=False), rtol=1e-4)
    assert float(norm.count) == 1000
    norm.freeze()
    norm.update(torch.zeros(10, 3))
    assert float(norm.count) == 1000
    assert "frozen" in norm.state_dict() and "mean" in norm.state_dict()
    norm.eval()
    y = norm(data.float())
    np.testing.assert_allclose(y.std(0).numpy(), 1.0, atol=0.02)


def test_normalizer_clips():
    norm = ObsNormalizer(2, clip=5.0)
    assert norm(torch.tensor([[1e6, -1e6]])).abs().max() <= 5.0


def test_config_validation_and_round_trip():
    cfg = gpt_config("B", "sliding_kv")
    assert PolicyConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="valid"):
        PolicyConfig(kind="mlp", inference="sliding_kv")
    with pytest.raises(ValueError, match="receptive field"):
        baseline_config("tcn", tcn_dilations=(1, 2, 4, 8, 16))
    with pytest.raises(ValueError, match="unknown PolicyConfig fields"):
        PolicyConfig.from_dict({"kind": "gpt", "width": 3})
    with pytest.raises(ValueError, match="not one of"):
        gpt_config("XL")
