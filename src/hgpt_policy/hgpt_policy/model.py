"""Humanoid-GPT: a causal Transformer over observation tokens, plus the factory for every policy kind.

Every policy maps a token sequence ``(B, T, obs_dim)`` (tokens from ``hgpt_core.obs.build_obs``, SI units,
unnormalised) to one raw action per position ``(B, T, 29)``; PD target = default + action_scale * action.
The GPT has two inference semantics, fixed at construction and recorded in the metadata:

* ``window`` (the paper): the action at t is the last output of full causal attention over the last H
  tokens, with RoPE positions 0..H-1 inside the window. At the start of an episode the window is the
  n < H tokens seen so far (positions 0..n-1), which is exactly the prefix of a causal forward.
* ``sliding_kv``: every layer attends to the previous H tokens (itself included) of the whole episode
  (band-causal mask). A KV cache makes a step O(1) tokens and is exact (RoPE is relative).

The two differ once an episode is longer than H (DESIGN §7: ~38% after 32 steps), so train for the
semantics you deploy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hgpt_core.policy_meta import PolicyMetadata
from hgpt_policy.config import PolicyConfig
from hgpt_policy.layers import ObsNormalizer, RotaryEmbedding, apply_rope


def band_causal_mask(t: int, width: int | None, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (t, t) mask, True where query i may attend key j: ``i - width < j <= i`` (None: causal)."""
    i = torch.arange(t, device=device)[:, None]
    j = torch.arange(t, device=device)[None, :]
    allowed = j <= i
    return allowed & (j > i - width) if width is not None else allowed


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on queries and keys (no learned absolute positions)."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.n_embd // cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor):
        """x (B, T, C), cos/sin (T, hd), mask (T, T) bool -> (B, T, C)."""
        b, t, c = x.shape
        q, k, v = (
            self.qkv(x).view(b, t, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        )  # (B, nh, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, nh, T, hd)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def step(self, x, rot_q, rot_k, k_cache, v_cache, slot, bias):
        """One token (the KV graph; written to export to few ONNX ops with no shape arithmetic).

        x (B, 1, C) (kept 3-D so Linear exports as MatMul, which int8 quantisation handles);
        rot_q, rot_k (B, 1, hd, hd): RoPE at the token's absolute position as matrices (rot_q includes
        1/sqrt(hd)); caches (B, nh, H, hd) with keys already rotated; slot (B, nh, 1, hd) int64 holds the
        ring slot ``pos % H`` to write; bias (B, 1, 1, H) is 0 for filled slots, -inf for empty ones.
        """
        qkv = self.qkv(x).reshape(-1, 3 * self.n_head, 1, self.head_dim)
        q, k, v = qkv.split(self.n_head, dim=1)  # (B, nh, 1, hd); constant split sizes, no shape ops
        k_cache = k_cache.scatter(2, slot, k @ rot_k)  # ScatterElements: copy + one slot, unlike Where
        v_cache = v_cache.scatter(2, slot, v)
        att = ((q @ rot_q) @ k_cache.transpose(-1, -2) + bias).softmax(-1)  # (B, nh, 1, H)
        y = (att @ v_cache).reshape(-1, 1, self.n_head * self.head_dim)
        return self.proj(y), k_cache, v_cache


class Block(nn.Module):
    """Pre-LN GPT block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, cfg.mlp_hidden),
            nn.GELU(),
            nn.Linear(cfg.mlp_hidden, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.ln1(x), cos, sin, mask)
        return x + self.mlp(self.ln2(x))

    def step(self, x, rot_q, rot_k, k_cache, v_cache, slot, bias):
        a, k_cache, v_cache = self.attn.step(self.ln1(x), rot_q, rot_k, k_cache, v_cache, slot, bias)
        x = x + a
        return x + self.mlp(self.ln2(x)), k_cache, v_cache


class HumanoidGPT(nn.Module):
    """Causal Transformer policy: normaliser -> linear embedding -> pre-LN blocks -> LN -> linear head."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        assert cfg.kind == "gpt", cfg.kind
        self.config = cfg
        self.normalizer = ObsNormalizer(cfg.obs_dim, clip=cfg.obs_clip)
        self.embed = nn.Linear(cfg.obs_dim, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.act_dim)
        self.rope = RotaryEmbedding(cfg.n_embd // cfg.n_head, base=cfg.rope_base)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2 n_layer)
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / (2 * cfg.n_layer) ** 0.5)
        nn.init.normal_(self.head.weight, 0.0, 0.01)  # start near the default pose

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)

    @property
    def cache_shape(self) -> tuple[int, int, int, int]:
        """(n_layer, n_head, H, head_dim); a batch's cache is (n_layer, B, n_head, H, head_dim)."""
        c = self.config
        return c.n_layer, c.n_head, c.context_len, c.n_embd // c.n_head

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T, obs_dim) -> actions (B, T, act_dim), positions 0..T-1.

        ``window`` models need T <= H (one window; use :meth:`rollout` for an episode), ``sliding_kv``
        models take any T and apply the band mask of width H.
        """
        t, h = tokens.shape[1], self.config.context_len
        if self.config.inference == "window" and t > h:
            raise ValueError(f"window model takes at most H={h} tokens, got {t}; use rollout()")
        if t > self.rope.radix:
            raise ValueError(f"sequence of {t} tokens exceeds the RoPE table ({self.rope.radix})")
        cos, sin = self.rope.first(t)
        width = h if self.config.inference == "sliding_kv" else None
        mask = band_causal_mask(t, width, tokens.device)
        x = self.drop(self.embed(self.normalizer(tokens)))
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        return self.head(self.ln_f(x))

    def rollout(self, tokens: torch.Tensor) -> torch.Tensor:
        """What the runtime outputs stepping through an episode. Tokens (B, T, obs) -> (B, T, act_dim)."""
        h = self.config.context_len
        if self.config.inference == "sliding_kv" or tokens.shape[1] <= h:
            return self(tokens)
        b, t, d = tokens.shape
        head = self(tokens[:, :h])  # t < H: the window is the prefix, positions 0..t
        wins = tokens.unfold(1, h, 1)[:, 1:].permute(0, 1, 3, 2).reshape(-1, h, d)  # windows ending at H..T-1
        tail = self(wins)[:, -1].view(b, t - h, -1)
        return torch.cat([head, tail], dim=1)

    def act_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """The window graph: tokens (B, T<=H, obs) -> action of the last position (B, act_dim)."""
        return self(tokens)[:, -1]

    def empty_cache(self, batch: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeroed (k, v) caches, shape (n_layer, B, n_head, H, head_dim) each."""
        n_layer, nh, h, hd = self.cache_shape
        z = torch.zeros(n_layer, batch, nh, h, hd, device=device)
        return z, z.clone()

    def step(self, token: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, pos: torch.Tensor):
        """One ``sliding_kv`` step.

        Args:
            token: Observation token, shape (B, obs_dim).
            k_cache: Rotated keys, ring buffer, shape (n_layer, B, n_head, H, head_dim).
            v_cache: Values, same shape.
            pos: Step index of ``token`` in its episode (0 at reset), int64, shape (B,).

        Returns:
            action (B, act_dim), new k_cache, new v_cache.
        """
        caches = [c for kv in zip(k_cache.unbind(0), v_cache.unbind(0), strict=True) for c in kv]
        action, *caches = self.step_layers(token, pos, *caches)
        return action, torch.stack(caches[0::2]), torch.stack(caches[1::2])

    def step_layers(self, token: torch.Tensor, pos: torch.Tensor, *caches: torch.Tensor):
        """:meth:`step` with per-layer caches ``k_0, v_0, k_1, v_1, ...``, (B, n_head, H, head_dim) each, as
        the KV graph takes them (no stacking copies). Returns (action, k_0', v_0', ...)."""
        _, nh, h, hd = self.cache_shape
        slots = torch.arange(h, device=token.device)
        slot = (pos % h).reshape(-1, 1, 1, 1).expand(-1, nh, 1, hd)  # (B, nh, 1, hd)
        bias = torch.where(slots > pos[:, None], float("-inf"), 0.0)  # (B, H): -inf on empty slots
        bias = bias[:, None, None, :]  # (B, 1, 1, H)
        rot_k = self.rope.rotation(pos)[:, None]  # (B, 1, hd, hd)
        rot_q = rot_k * hd**-0.5
        x = self.embed(self.normalizer(token[:, None]))  # (B, 1, C)
        out = []
        for i, blk in enumerate(self.blocks):
            x, kc, vc = blk.step(x, rot_q, rot_k, caches[2 * i], caches[2 * i + 1], slot, bias)
            out += [kc, vc]
        return self.head(self.ln_f(x)).reshape(-1, self.config.act_dim), *out


class KVStep(nn.Module):
    """Wraps :meth:`HumanoidGPT.step_layers` as ``forward`` (for ONNX export)."""

    def __init__(self, gpt: HumanoidGPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, token, pos, *caches):
        return self.gpt.step_layers(token, pos, *caches)


class LastAction(nn.Module):
    """Wraps ``act_last`` as ``forward`` (the window graph, for ONNX export)."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, tokens):
        return self.policy.act_last(tokens)


def build_policy(arch: dict | PolicyConfig) -> nn.Module:
    """Instantiate the policy described by ``arch`` (``PolicyConfig.to_dict()``, as stored in metadata)."""
    from hgpt_policy.baselines import CausalTCN, MLPPolicy

    cfg = arch if isinstance(arch, PolicyConfig) else PolicyConfig.from_dict(arch)
    if cfg.kind == "gpt":
        return HumanoidGPT(cfg)
    if cfg.kind == "tcn":
        return CausalTCN(cfg)
    return MLPPolicy(cfg)


def num_params(model: nn.Module) -> int:
    """Trainable parameter count (works on the meta device)."""
    return sum(p.numel() for p in model.parameters())


def make_metadata(cfg: PolicyConfig, policy_id: str, **fields) -> PolicyMetadata:
    """Metadata whose ``arch``, ``inference`` and ``context_len`` come from ``cfg``; ``fields`` set the rest
    (gains, default pose, action scale, obs terms, training summary)."""
    return PolicyMetadata(
        policy_id=policy_id,
        arch=cfg.to_dict(),
        inference=cfg.inference,
        context_len=cfg.history_len,
        **fields,
    )
