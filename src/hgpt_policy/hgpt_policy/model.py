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
from hgpt_policy.layers import ObsNormalizer, RotaryEmbedding, rope_rotate


def band_causal_mask(t: int, width: int | None, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (t, t) mask, True where query i may attend key j: ``i - width < j <= i`` (None: causal)."""
    i = torch.arange(t, device=device)[:, None]
    j = torch.arange(t, device=device)[None, :]
    allowed = j <= i
    return allowed & (j > i - width) if width is not None else allowed


class BandBlocks:
    """The band-causal mask of width H in blocks: ``T`` queries in blocks of H, each block attending to
    its own and the previous block's keys (2H), so attention costs T x 2H instead of T x T (a
    sliding_kv training sequence of 400 tokens from reset: ~6x less attention work).

    ``bias`` is the additive mask (1, n_head * n_blocks, H, 2H), built once per forward for every layer:
    query i of block b (absolute b*H + i) may attend key j of the block pair (absolute (b-1)*H + j) iff
    ``i < j <= i + H``, and block 0 none of the H padding keys in front of it; every query sees at least
    itself, so no row is fully masked.
    """

    def __init__(self, t: int, width: int, n_head: int, device: torch.device | None = None) -> None:
        self.width, self.n = width, -(-t // width)
        i = torch.arange(width, device=device)[:, None]
        j = torch.arange(2 * width, device=device)[None, :]
        allowed = ((j > i) & (j <= i + width)).expand(self.n, width, 2 * width).clone()
        allowed[0, :, :width] = False  # the padding block in front of block 0
        bias = torch.where(allowed, 0.0, float("-inf"))
        self.bias = bias.repeat(n_head, 1, 1)[None]  # (1, nh * n, H, 2H), head-major (4-D: the fused kernel)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float) -> torch.Tensor:
        """q, k, v (B, nh, T, hd) -> (B, nh, T, hd), equal to SDPA with the (T, T) band-causal mask."""
        b, nh, t, hd = q.shape
        w, n = self.width, self.n
        pad = n * w - t
        q = F.pad(q, (0, 0, 0, pad)).reshape(b, nh * n, w, hd)

        def pairs(x: torch.Tensor) -> torch.Tensor:  # (B, nh, T, hd) -> (B, nh * n, 2H, hd): block pairs
            x = F.pad(x, (0, 0, w, pad)).view(b, nh, n + 1, w, hd)  # a padding block in front, tail padded
            return torch.cat([x[:, :, :-1], x[:, :, 1:]], dim=3).reshape(b, nh * n, 2 * w, hd)

        y = F.scaled_dot_product_attention(q, pairs(k), pairs(v), attn_mask=self.bias, dropout_p=dropout_p)
        return y.reshape(b, nh, n * w, hd)[:, :, :t]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on queries and keys (no learned absolute positions)."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim, self.context_len = cfg.n_head, cfg.n_embd // cfg.n_head, cfg.context_len
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x, rope, bias, last_only: bool = False):
        """x (B, T, C), rope = (cos (T, hd), sin (T, hd), rot_half (hd, hd)), bias (T, T) additive mask
        (0 / -inf) or the band in blocks -> (B, T, C), or (B, 1, C) for the last query only (the window
        graph's final block)."""
        qkv = self.qkv(x).unflatten(-1, (3 * self.n_head, self.head_dim)).transpose(1, 2)  # (B, 3nh, T, hd)
        qk, v = qkv.split([2 * self.n_head, self.n_head], dim=1)
        q, k = rope_rotate(qk, *rope).split(self.n_head, dim=1)  # (B, nh, T, hd) each
        p = self.dropout if self.training else 0.0
        if isinstance(bias, BandBlocks):
            return self.proj(bias.attend(q, k, v, p).transpose(1, 2).flatten(2))
        if last_only:
            q, bias = q[:, :, -1:], bias[-1:]
        if torch.onnx.is_in_onnx_export():  # plain ops: the SDPA export adds shape/NaN handling per layer
            att = (q @ k.transpose(-1, -2) * self.head_dim**-0.5 + bias).softmax(-1)
            y = att @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)  # (B, nh, T or 1, hd)
        return self.proj(y.transpose(1, 2).flatten(2))

    def step(self, x, rot_q, rot_k, k_cache, v_cache, bias):
        """One token (the KV graph; written to export to few ONNX ops and no shape arithmetic).

        Args:
            x: (B, 1, C), kept 3-D so Linear exports as MatMul (which int8 quantisation handles).
            rot_q, rot_k: RoPE at the token's absolute position as matrices, (B, 1, hd, hd); rot_q
                includes 1/sqrt(hd).
            k_cache, v_cache: Ring buffers (B, nh, H, hd) of the previous tokens, keys already rotated.
                Read only: the caller writes the returned new key/value into slot ``pos % H`` afterwards,
                so the graph copies no cache.
            bias: (B, 1, 1, H), 0 for slots holding one of the previous H-1 tokens, -inf otherwise
                (empty, or slot ``pos % H`` whose token is now H steps old).

        Returns:
            (B, 1, C) output, new key (B, nh, 1, hd) (rotated), new value (B, nh, 1, hd).
        """
        qkv = self.qkv(x).reshape(-1, 3 * self.n_head, 1, self.head_dim)
        q, k, v = qkv.split(self.n_head, dim=1)  # (B, nh, 1, hd); constant split sizes
        q, k = q @ rot_q, k @ rot_k
        att = torch.cat([q @ k_cache.transpose(-1, -2) + bias, q @ k.transpose(-1, -2)], dim=-1)
        att_cache, att_new = att.softmax(-1).split([self.context_len, 1], dim=-1)  # (B, nh, 1, H), (.., 1)
        y = (att_cache @ v_cache + att_new * v).reshape(-1, 1, self.n_head * self.head_dim)
        return self.proj(y), k, v


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

    def forward(self, x, rope, bias, last_only: bool = False):
        """(B, T, C) -> (B, T, C), or (B, 1, C): the last position only (the window graph's final block)."""
        a = self.attn(self.ln1(x), rope, bias, last_only)
        x = (x[:, -1:] if last_only else x) + a
        return x + self.mlp(self.ln2(x))

    def step(self, x, rot_q, rot_k, k_cache, v_cache, bias):
        a, k, v = self.attn.step(self.ln1(x), rot_q, rot_k, k_cache, v_cache, bias)
        x = x + a
        return x + self.mlp(self.ln2(x)), k, v


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
        self.band_blocks = True
        """sliding_kv sequences longer than 2H attend in blocks (:class:`BandBlocks`); False: the full
        (T, T) mask, same result (benchmarks/bench_distill.py compares the two)."""

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
        return self._forward(tokens, last_only=False)

    def _forward(self, tokens: torch.Tensor, last_only: bool) -> torch.Tensor:
        t, h = tokens.shape[1], self.config.context_len
        if self.config.inference == "window" and t > h:
            raise ValueError(f"window model takes at most H={h} tokens, got {t}; use rollout()")
        if t > self.rope.radix:
            raise ValueError(f"sequence of {t} tokens exceeds the RoPE table ({self.rope.radix})")
        rope = (*self.rope.first(t), self.rope.rot_half)
        width = h if self.config.inference == "sliding_kv" else None
        bias: torch.Tensor | BandBlocks
        if width is not None and self.band_blocks and t > 2 * width and not last_only:
            bias = BandBlocks(
                t, width, self.config.n_head, tokens.device
            )  # long sequences: T x 2H attention, not T x T
        else:
            bias = torch.where(band_causal_mask(t, width, tokens.device), 0.0, float("-inf"))  # (T, T)
        x = self.drop(self.embed(self.normalizer(tokens)))
        for i, blk in enumerate(self.blocks):
            x = blk(x, rope, bias, last_only and i == len(self.blocks) - 1)
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
        """The window graph: tokens (B, T<=H, obs) -> action of the last position (B, act_dim).

        Equals ``self(tokens)[:, -1]``; the last block computes its query, MLP and head for the last
        position only (1/n_layer less work)."""
        return self._forward(tokens, last_only=True)[:, -1]

    def empty_cache(self, batch: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeroed (k, v) caches, shape (n_layer, B, n_head, H, head_dim) each."""
        n_layer, nh, h, hd = self.cache_shape
        z = torch.zeros(n_layer, batch, nh, h, hd, device=device)
        return z, z.clone()

    def step(self, token: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, pos: torch.Tensor):
        """One ``sliding_kv`` step; writes the token's key/value into the caches in place.

        Args:
            token: Observation token, shape (B, obs_dim).
            k_cache: Rotated keys, ring buffer, shape (n_layer, B, n_head, H, head_dim); updated in place.
            v_cache: Values, same shape; updated in place.
            pos: Step index of ``token`` in its episode (0 at reset), int64, shape (B,).

        Returns:
            action (B, act_dim), k_cache, v_cache.
        """
        caches = [c for kv in zip(k_cache.unbind(0), v_cache.unbind(0), strict=True) for c in kv]
        action, k_new, v_new = self.step_layers(token, pos, *caches)
        rows, slots = torch.arange(len(pos), device=pos.device), pos % self.config.context_len
        k_cache[:, rows, :, slots] = k_new.transpose(1, 2)  # (B, n_layer, nh, hd) per (row, slot)
        v_cache[:, rows, :, slots] = v_new.transpose(1, 2)
        return action, k_cache, v_cache

    def step_layers(self, token: torch.Tensor, pos: torch.Tensor, *caches: torch.Tensor):
        """The KV graph: :meth:`step` with per-layer caches ``k_0, v_0, k_1, v_1, ...``, (B, n_head, H,
        head_dim) each (no stacking copies), which it only reads.

        Returns:
            action (B, act_dim), k_new and v_new (B, n_head, n_layer, head_dim): the token's key (rotated)
            and value in every layer, for the caller to write into ring slot ``pos % H``.
        """
        _, nh, h, hd = self.cache_shape
        slots = torch.arange(h, device=token.device)
        stale = (slots >= pos[:, None]) | (slots == (pos % h)[:, None])  # (B, H): empty or H steps old
        bias = torch.where(stale, float("-inf"), 0.0)[:, None, None, :]  # (B, 1, 1, H)
        rot_k = self.rope.rotation(pos)[:, None]  # (B, 1, hd, hd)
        rot_q = rot_k * hd**-0.5
        x = self.embed(self.normalizer(token[:, None]))  # (B, 1, C)
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk.step(x, rot_q, rot_k, caches[2 * i], caches[2 * i + 1], bias)
            ks.append(k)
            vs.append(v)
        action = self.head(self.ln_f(x)).reshape(-1, self.config.act_dim)
        return action, torch.cat(ks, dim=2), torch.cat(vs, dim=2)


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
